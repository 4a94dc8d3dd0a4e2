"""Staff page for customers: their houses, and a house (with its customer account) added."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.auth import staff_required
from smt import customers
from smt.esiid_checks import ercot_esiid_warnings
from smt.forms import HouseForm
from smt.models import House


@require_http_methods(["GET", "POST"])
@staff_required
def customer_list(request: HttpRequest) -> HttpResponse:
    form = HouseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            house, password = customers.house_create(
                username=data["username"],
                email=data["email"],
                name=data["name"],
                esiid=data["esiid"],
                meter=data["meter"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"House {house.name} ({house.esiid}) added for {house.customer.username}.")
            for warning in ercot_esiid_warnings([house.esiid]):  # de-energized, inactive or unknown to ERCOT
                messages.warning(request, f"ESIID {warning['esiid']}: {warning['problem']}")
            if not password:
                return redirect("smt:customer-list")
            # A new account's password goes in this response alone: a flash message would keep it
            # in the session store (or a cookie) until the next page is read.
            return _customer_page(
                request, HouseForm(), new_account={"username": house.customer.username, "password": password}
            )
    return _customer_page(request, form)


def _customer_page(request: HttpRequest, form: HouseForm, new_account: dict | None = None) -> HttpResponse:
    houses = House.objects.select_related("customer").order_by("customer__username", "name")
    context = {"form": form, "houses": houses, "new_account": new_account}
    return render(request, "smt/customer_list.html", context, status=400 if form.errors else 200)
