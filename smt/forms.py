from datetime import timedelta

from django import forms
from django.utils import timezone

from config.texas import CENTRAL, parse_esiid
from config.widgets import DateInput
from smt import interval_rows, parser
from smt.models import RawSmtFile


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


class RawFileHintsForm(forms.Form):
    """The ESIID / UsagePoint mapping a failed raw file is normalized again with; empty keeps the stored one."""

    esiid = EsiidField(label="ESIID", max_length=23, required=False)
    usage_point_esiids = forms.CharField(
        label="UsagePoint → ESIID (JSON)",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": '{"RetailCustomer/1/UsagePoint/1": "10443720000000001"}'}
        ),
    )

    def __init__(self, *args, raw_file: RawSmtFile, **kwargs):
        super().__init__(*args, **kwargs)
        self.raw_file = raw_file

    def clean_usage_point_esiids(self) -> dict[str, str]:
        try:
            return interval_rows.usage_point_esiids_parse(self.cleaned_data["usage_point_esiids"])
        except parser.FileRejected as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        raw, given = self.raw_file, self.hints()
        changes = raw.hints_merged(**given) != (raw.esiid_hint, dict(raw.usage_point_esiids or {}))
        if changes and raw.status != RawSmtFile.Status.FAILED:
            # A normalized file read again under other ESIIDs would write its rows twice.
            raise forms.ValidationError(
                f"Only a failed file takes new hints; this one is {raw.status}. Upload a corrected file instead."
            )
        return data

    def hints(self) -> dict:
        return {
            "esiid": self.cleaned_data.get("esiid") or "",
            "usage_points": self.cleaned_data.get("usage_point_esiids") or {},
        }
