from datetime import timedelta

from django import forms
from django.utils import timezone

from config.texas import CENTRAL, parse_esiid
from config.widgets import DateInput


class EsiidField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value and parse_esiid(value) is None:
            raise forms.ValidationError("An ESIID is 17 or 22 digits.")
        return parse_esiid(value) if value else value


class UsageForm(forms.Form):
    esiid = EsiidField(label="ESIID", max_length=23, widget=forms.TextInput(attrs={"list": "esiid-list"}))
    meter = forms.CharField(required=False, max_length=64)
    start = forms.DateField(label="From (local day)", required=False, widget=DateInput)
    end = forms.DateField(label="To (local day)", required=False, widget=DateInput)

    def clean(self):
        data = super().clean()
        today = timezone.localdate(timezone=CENTRAL)
        # Today is still arriving, so by default the range ends with the last complete day.
        data["end"] = data.get("end") or today - timedelta(days=1)
        data["start"] = data.get("start") or data["end"] - timedelta(days=364)
        if data["start"] > data["end"]:
            raise forms.ValidationError("'From' must not be after 'To'.")
        if (data["end"] - data["start"]).days > 3650:
            raise forms.ValidationError("Choose at most ten years.")
        return data


class CustomerRangeForm(forms.Form):
    """The customer usage page's date range; both empty means the house's latest 90 days."""

    start = forms.DateField(label="From", required=False, widget=DateInput)
    end = forms.DateField(label="To", required=False, widget=DateInput)

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end):
            raise forms.ValidationError("Choose both a 'From' and a 'To' day, or neither.")
        if start and start > end:
            raise forms.ValidationError("'From' must not be after 'To'.")
        if start and (end - start).days > 366:
            raise forms.ValidationError("Choose at most a year at a time.")
        return data


class DeleteForm(forms.Form):
    esiid = EsiidField(label="ESIID", max_length=23)
    meter = forms.CharField(max_length=64, initial="unknown")
    start = forms.DateField(label="From (local day, inclusive)", widget=DateInput)
    end = forms.DateField(label="To (local day, inclusive)", widget=DateInput)
    reason = forms.CharField(
        max_length=2000, required=False, widget=forms.TextInput(attrs={"placeholder": "why (kept in the audit)"})
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("'From' must not be after 'To'.")
        return data


class HouseForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="An existing customer, or a new one")
    email = forms.EmailField(required=False)
    name = forms.CharField(label="House", max_length=120)
    esiid = EsiidField(label="ESIID", max_length=23)
    meter = forms.CharField(max_length=64, required=False)
