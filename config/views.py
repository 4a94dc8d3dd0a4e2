from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: no secrets, no database writes."""
    backend = type(default_storage).__name__
    storage = "s3" if "S3" in backend else "local"
    return JsonResponse(
        {"ok": True, "service": "wattledger", "storage": storage, "maxBytes": settings.SMT_UPLOAD_MAX_BYTES}
    )


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and not request.user.is_staff:
        return redirect("smt:customer-usage")
    return redirect("smt:raw-file-list")
