"""Every SMT route, with its full path, in the `smt:` namespace (included at the site root).

The paths are what people, scripts and SMT's webhook use: they stay as they are; only the
names moved into the namespace.
"""

from collections.abc import Callable

from django.http import HttpResponse
from django.urls import path
from django.views.generic import RedirectView

from ops import views as ops_views
from smt.views import automation, customer_pages, customers, hooks, intervals, raw_files, upload, usage


def _moved(pattern_name: str) -> Callable[..., HttpResponse]:
    return RedirectView.as_view(
        pattern_name=pattern_name, permanent=True, query_string=True, http_method_names=["get", "head"]
    )


app_name = "smt"
urlpatterns = [
    # The bare prefix opens the main page (people type it).
    path("smt/", RedirectView.as_view(pattern_name="smt:raw-file-list"), name="root"),
    path("upload", upload.raw_file_upload, name="upload"),
    # Older scripts post here; same contract as /upload, so the same view.
    path("api/admin/smt/raw-upload", upload.raw_file_upload, name="api-raw-upload"),
    path("smt/raw-files/", raw_files.raw_file_list, name="raw-file-list"),
    path("smt/raw-files/normalize-latest", raw_files.raw_file_normalize_latest, name="raw-file-normalize-latest"),
    path("smt/raw-files/<int:pk>/", raw_files.raw_file_detail, name="raw-file-detail"),
    path("smt/raw-files/<int:pk>/download", raw_files.raw_file_download, name="raw-file-download"),
    path("smt/raw-files/<int:pk>/normalize", raw_files.raw_file_normalize, name="raw-file-normalize"),
    path("smt/intervals/", intervals.interval_list, name="interval-list"),
    path("smt/intervals/export.csv", intervals.interval_export, name="interval-export"),
    path("smt/intervals/delete", intervals.interval_delete, name="interval-delete"),
    path("smt/deletions/", intervals.deletion_list, name="deletion-list"),
    path("smt/usage/", usage.usage_summary, name="usage-summary"),
    path("smt/usage/portfolio", usage.usage_portfolio, name="usage-portfolio"),
    path("smt/customers/", customers.customer_list, name="customer-list"),
    # The Jobs pages moved to /ops/jobs/ (every source's runs); the old addresses still serve them.
    path("smt/jobs/", ops_views.job_list, name="job-list"),
    path("smt/jobs/<int:pk>/", ops_views.job_detail, name="job-detail"),
    path("smt/billing-reads/", automation.billing_read_list, name="billing-read-list"),
    path("customer/smt-upload", customer_pages.customer_upload, name="customer-upload"),
    path("customer/usage", customer_pages.customer_usage, name="customer-usage"),
    path("customer/usage/green-button.xml", customer_pages.customer_green_button, name="customer-green-button"),
    path("customer/uploads/", customer_pages.customer_upload_list, name="customer-upload-list"),
    path("customer/uploads/<int:pk>/", customer_pages.customer_upload_detail, name="customer-upload-detail"),
    path("trigger/smt-now", hooks.smt_trigger_webhook, name="trigger-webhook"),
    path("admin/smt/token", hooks.smt_token_proxy, name="token-proxy"),
    path("admin/smt/trigger", automation.smt_trigger, name="trigger"),
    # The previous system's addresses, still in bookmarks and scripts: sent to their new places.
    # GET only, so a script's POST is not silently turned into a GET by the redirect.
    path("admin/smt/raw", _moved("smt:raw-file-list"), name="old-raw"),
    path("admin/smt/normalize", _moved("smt:raw-file-list"), name="old-normalize"),
    path("api/admin/smt/raw", _moved("api:raw_files"), name="old-api-raw"),
]
