from django.urls import path

from ops import views

app_name = "ops"
urlpatterns = [
    path("", views.monitor_list, name="monitor-list"),
    path("monitors/<int:pk>/", views.monitor_detail, name="monitor-detail"),
    path("monitors/<int:pk>/pause", views.monitor_pause, name="monitor-pause"),
    path("monitors/<int:pk>/resume", views.monitor_resume, name="monitor-resume"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<int:pk>/", views.job_detail, name="job-detail"),
]
