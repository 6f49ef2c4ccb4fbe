from django.urls import path

from mamori.api.main import api

urlpatterns = [path("", api.urls)]
