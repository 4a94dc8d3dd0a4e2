from django.urls import path

from telemetry import views

app_name = "telemetry"
urlpatterns = [
    path("devices/", views.device_health, name="device-health"),
    path("devices/<int:pk>/", views.device_detail, name="device-detail"),
    path("devices/<int:pk>/assign", views.device_assign, name="device-assign"),
    path("devices/<int:pk>/token", views.device_token, name="device-token"),
    path("devices/<int:pk>/reading", views.device_reading, name="device-reading"),
    path("locations/", views.location_list, name="location-list"),
    path("locations/<int:pk>/", views.location_detail, name="location-detail"),
    path("costs/", views.cost_version_list, name="cost-version-list"),
    path("costs/<int:pk>/", views.cost_version_detail, name="cost-version-detail"),
    path("tickets/", views.ticket_list, name="ticket-list"),
    path("tickets/<int:pk>/<str:action>", views.ticket_update, name="ticket-update"),
    path("malformed/", views.malformed_list, name="malformed-list"),
]
