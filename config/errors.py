"""One shape for JSON errors outside django-ninja: `{"ok": false, "error": "..."}` with a status."""

from django.http import JsonResponse


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"ok": False, "error": message, **extra}, status=status)
