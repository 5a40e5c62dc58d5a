"""The SensorThings API under /v1.1/."""

from django.urls import include, path

urlpatterns = [path("", include("sensorthings.versions.v1_1.urls"))]
