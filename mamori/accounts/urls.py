from django.urls import path

from mamori.accounts import views

app_name = "accounts"
urlpatterns = [
    path("welcome/<str:secret>/", views.welcome, name="welcome"),
    path("account/set-password/", views.set_password_view, name="set_password"),
]
