"""Staff page for customers: their houses, and a house (with its customer account) added."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from config.auth import staff_required
from smt import customers
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
                username=data["username"], email=data["email"], name=data["name"], esiid=data["esiid"], meter=data["meter"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if password:
                messages.info(request, f"Customer {house.customer.username} created with password {password} (shown once).")
            messages.success(request, f"House {house.name} ({house.esiid}) added for {house.customer.username}.")
            return redirect("smt:customer-list")
    houses = House.objects.select_related("customer").order_by("customer__username", "name")
    return render(request, "smt/customer_list.html", {"form": form, "houses": houses})
