from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config import views
from config.api import api
from config.throttle import ThrottledAdminAuthenticationForm, ThrottledLoginView
from ops import views as ops_views

admin.site.site_url = "/"
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    # Every SMT route with its full path (/upload, /smt/..., /customer/..., /admin/smt/...): smt/urls.py.
    path("", include("smt.urls")),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/database/", admin.site.urls),
    path("api/", api.urls),
    # The bare prefix opens the app's main page (people type it).
    path("telemetry/", RedirectView.as_view(pattern_name="telemetry:device-health"), name="telemetry-root"),
    path("ercot/", include("ercot.urls")),
    path("telemetry/", include("telemetry.urls")),
    path("ops/", include("ops.urls")),
    path("metrics", ops_views.metrics, name="metrics"),
]
