from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from django import forms

from config.widgets import DateInput
from telemetry.models import Device, Location


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = ["name"]


class AssignForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.all(), required=False, empty_label="— unassigned —")
    effective_from = forms.DateField(
        required=False,
        widget=DateInput,
        label="From (local date)",
        help_text="Empty: today. A device's first assignment covers all its history.",
    )
    note = forms.CharField(required=False, max_length=200)


class DeviceReadingForm(forms.ModelForm):
    """How the device's messages are read: its zone for times without an offset, its counter unit."""

    class Meta:
        model = Device
        fields = ["time_zone", "counter_unit"]
        labels = {"time_zone": "Time zone", "counter_unit": "Counter unit"}
        widgets = {"time_zone": forms.TextInput(attrs={"placeholder": "e.g. America/Chicago"})}

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if zone and zone not in available_timezones():
            raise forms.ValidationError(
                f"{zone[:64]!r} is not an IANA time zone (like America/Chicago); empty: the default."
            )
        return zone


class CostVersionForm(forms.Form):
    cost_per_kwh = forms.DecimalField(label="Price per kWh", min_value=Decimal(0), max_digits=12, decimal_places=6)
    effective_from = forms.CharField(
        label="Effective from (local, or with offset)",
        max_length=40,
        widget=forms.TextInput(attrs={"placeholder": "2026-04-01T00:00 or 2026-04-01T00:00+05:30"}),
    )
    notes = forms.CharField(required=False, max_length=2000, widget=forms.TextInput)

    def __init__(self, *args, zone: ZoneInfo, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone

    def clean_effective_from(self) -> datetime:
        """ISO 8601; without an offset it is a TELEMETRY_TIME_ZONE wall time."""
        raw = self.cleaned_data["effective_from"].strip()
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise forms.ValidationError(
                "Give a date and time like 2026-04-01T00:00, optionally with an offset."
            ) from None
        return value if value.tzinfo else value.replace(tzinfo=self.zone)


class DayRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=DateInput, label="From (local day)")
    end = forms.DateField(required=False, widget=DateInput, label="To (local day)")
    day = forms.DateField(required=False, widget=DateInput, label="Timeline day")
