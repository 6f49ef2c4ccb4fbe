from django.urls import path

from mamori.accounts import views

app_name = "accounts"
urlpatterns = [
    path("welcome/<str:secret>/", views.welcome, name="welcome"),
    path("invitation/<str:secret>/", views.invitation, name="invitation"),
    path("account/set-password/", views.set_password_view, name="set_password"),
    path("account/password/", views.change_password_view, name="change_password"),
    path("account/sign-out-everywhere/", views.end_my_sessions, name="end_sessions"),
]
