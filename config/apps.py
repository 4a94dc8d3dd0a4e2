from django.contrib.admin.apps import AdminConfig


class ReadOnlyAdminConfig(AdminConfig):
    """django.contrib.admin with config.admin.ReadOnlyAdminSite as admin.site (every model view-only)."""

    default_site = "config.admin.ReadOnlyAdminSite"
