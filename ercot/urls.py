from django.urls import path

from ercot import views

app_name = "ercot"
urlpatterns = [
    path("", views.ingest_list, name="ingest-list"),
    path("fetch", views.ingest_fetch, name="ingest-fetch"),
    path("files/<int:pk>/download", views.ingest_download, name="ingest-download"),
    path("esiids/", views.esiid_lookup, name="esiid-lookup"),
]
