from django.urls import path

from ops import views as ops_views
from smt import automation_views, usage_views, views

app_name = "smt"
urlpatterns = [
    path("raw-files/", views.raw_file_list, name="raw-file-list"),
    path("raw-files/normalize-latest", views.raw_file_normalize_latest, name="raw-file-normalize-latest"),
    path("raw-files/<int:pk>/", views.raw_file_detail, name="raw-file-detail"),
    path("raw-files/<int:pk>/download", views.raw_file_download, name="raw-file-download"),
    path("raw-files/<int:pk>/normalize", views.raw_file_normalize, name="raw-file-normalize"),
    path("intervals/", usage_views.interval_list, name="interval-list"),
    path("intervals/export.csv", usage_views.interval_export, name="interval-export"),
    path("intervals/delete", usage_views.interval_delete, name="interval-delete"),
    path("deletions/", usage_views.deletion_list, name="deletion-list"),
    path("usage/", usage_views.usage_summary, name="usage-summary"),
    path("usage/portfolio", usage_views.usage_portfolio, name="usage-portfolio"),
    path("customers/", usage_views.customer_list, name="customer-list"),
    # The Jobs pages moved to /ops/jobs/ (every source's runs); the old addresses still serve them.
    path("jobs/", ops_views.job_list, name="job-list"),
    path("jobs/<int:pk>/", ops_views.job_detail, name="job-detail"),
    path("billing-reads/", automation_views.billing_read_list, name="billing-read-list"),
]
