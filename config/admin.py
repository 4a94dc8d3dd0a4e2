"""The read-only base every app's admin classes use: the Django admin is a database explorer."""

from django.contrib import admin


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


class ReadOnlyAdminSite(admin.AdminSite):
    """Every model is view-only, including the ones other apps register (users, groups,
    django-q2's scheduled tasks): the title says "read-only", so no Add or Change anywhere.
    Users are made on the Customers page; schedules by `manage.py setup_schedules`."""

    site_header = "Wattledger database (read-only)"
    site_title = "Wattledger database"
    index_title = "Browse the database (read-only)"

    def register(self, model_or_iterable, admin_class=None, **options) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ReadOnlyMixin):
            admin_class = type(f"ReadOnly{admin_class.__name__}", (ReadOnlyMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)
