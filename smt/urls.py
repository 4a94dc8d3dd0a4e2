from django.urls import path

from smt import views

app_name = "smt"
urlpatterns = [
    path("raw-files/", views.raw_file_list, name="raw-file-list"),
    path("raw-files/normalize-latest", views.raw_file_normalize_latest, name="raw-file-normalize-latest"),
    path("raw-files/<int:pk>/", views.raw_file_detail, name="raw-file-detail"),
    path("raw-files/<int:pk>/download", views.raw_file_download, name="raw-file-download"),
    path("raw-files/<int:pk>/normalize", views.raw_file_normalize, name="raw-file-normalize"),
]
