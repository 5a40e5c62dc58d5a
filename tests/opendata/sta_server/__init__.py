"""A tiny Django project serving django-ogc-sensorthings (SensorThings API 1.1) for tests."""
