"""The API's pages for signed-in staff (the API itself is under /v1/: api/urls.py)."""

from django.urls import path

from api import reference

app_name = "api_pages"

urlpatterns = [path("api/", reference.reference, name="reference")]
