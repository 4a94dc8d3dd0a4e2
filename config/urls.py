from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config import views
from config.api import api
from config.throttle import ThrottledAdminAuthenticationForm, ThrottledLoginView
from ops import views as ops_views
from smt import automation_views, customer_views, hooks
from smt.upload import raw_file_upload

admin.site.site_header = "Wattledger database (read-only)"
admin.site.site_url = "/"
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    path("upload", raw_file_upload, name="upload"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/database/", admin.site.urls),
    # Older scripts post here; same contract as /upload, so the same view.
    path("api/admin/smt/raw-upload", raw_file_upload, name="api-raw-upload"),
    path("api/", api.urls),
    # Each app's bare prefix opens its main page (people type these).
    path("smt/", RedirectView.as_view(pattern_name="smt:raw-file-list"), name="smt-root"),
    path("telemetry/", RedirectView.as_view(pattern_name="telemetry:device-health"), name="telemetry-root"),
    path("smt/", include("smt.urls")),
    path("ercot/", include("ercot.urls")),
    path("telemetry/", include("telemetry.urls")),
    path("ops/", include("ops.urls")),
    path("metrics", ops_views.metrics, name="metrics"),
    path("customer/smt-upload", customer_views.customer_upload, name="customer-upload"),
    path("customer/usage", customer_views.customer_usage, name="customer-usage"),
    path("trigger/smt-now", hooks.smt_trigger_webhook, name="smt-trigger-webhook"),
    path("admin/smt/token", hooks.smt_token_proxy, name="smt-token-proxy"),
    path("admin/smt/trigger", automation_views.smt_trigger, name="smt-trigger"),
]
