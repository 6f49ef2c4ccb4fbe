from django.urls import path

from mamori.operations import views

app_name = "provider"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
