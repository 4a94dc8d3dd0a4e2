"""JSON endpoints for signed-in customers (session + CSRF), mounted at /api/user/."""

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.security import SessionAuth

from smt import customers
from smt.models import House


class CustomerSession(SessionAuth):
    def authenticate(self, request: HttpRequest, key: str | None):
        user = request.user
        return user if user.is_authenticated and not user.is_staff else None


router = Router(tags=["customer"], auth=CustomerSession())


class RefreshIn(Schema):
    houseId: int = Field(..., ge=1)
    esiid: str = Field(..., min_length=17, max_length=22)


@router.post("/usage/refresh")
def usage_refresh(request: HttpRequest, body: RefreshIn) -> dict:
    """Recompute one of the customer's houses; someone else's house is a 404."""
    house = get_object_or_404(House.objects.visible_to(request.user), pk=body.houseId)
    if house.esiid != body.esiid:
        raise HttpError(404, "no such house with that ESIID")
    return {"ok": True, **customers.house_summary(house=house)}
