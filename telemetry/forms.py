from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms

from config.widgets import DateInput
from telemetry.models import Location


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = ["name"]


class AssignForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.all(), required=False, empty_label="— unassigned —")
    effective_from = forms.DateField(required=False, widget=DateInput, label="From (local date)",
                                     help_text="Empty: today. A device's first assignment covers all its history.")
    note = forms.CharField(required=False, max_length=200)


class CostVersionForm(forms.Form):
    cost_per_kwh = forms.DecimalField(label="Price per kWh", min_value=Decimal(0), max_digits=12, decimal_places=6)
    effective_from = forms.CharField(
        label="Effective from (local, or with offset)", max_length=40,
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
            raise forms.ValidationError("Give a date and time like 2026-04-01T00:00, optionally with an offset.") from None
        return value if value.tzinfo else value.replace(tzinfo=self.zone)


class DayRangeForm(forms.Form):
    start = forms.DateField(required=False, widget=DateInput, label="From (local day)")
    end = forms.DateField(required=False, widget=DateInput, label="To (local day)")
    day = forms.DateField(required=False, widget=DateInput, label="Timeline day")
