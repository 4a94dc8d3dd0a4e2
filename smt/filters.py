import django_filters
from django import forms

from config.widgets import DateInput
from smt.models import RawSmtFile, SmtBillingRead, SmtInterval
from smt.usage import day_bounds


class RawSmtFileFilter(django_filters.FilterSet):
    filename = django_filters.CharFilter(lookup_expr="icontains", label="File name")
    esiid_hint = django_filters.CharFilter(lookup_expr="startswith", label="ESIID")
    source = django_filters.CharFilter(lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=RawSmtFile.Status.choices, empty_label="any status")
    received_after = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte", label="Received from", widget=DateInput)

    class Meta:
        model = RawSmtFile
        fields = ["filename", "esiid_hint", "source", "status", "received_after"]


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class IntervalFilter(django_filters.FilterSet):
    """Filters that keep to the (esiid, ts) index: equality on ESIID, ranges on ts."""

    esiid = django_filters.CharFilter(label="ESIID")
    meter = django_filters.CharFilter()
    channel = django_filters.ChoiceFilter(choices=SmtInterval.Channel.choices, empty_label="any channel")
    utc_from = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="gte", label="From (UTC)", widget=DateTimeInput)
    utc_to = django_filters.IsoDateTimeFilter(field_name="ts", lookup_expr="lt", label="To (UTC, exclusive)", widget=DateTimeInput)
    local_from = django_filters.DateFilter(method="filter_local_from", label="From local day", widget=DateInput)
    local_to = django_filters.DateFilter(method="filter_local_to", label="To local day", widget=DateInput)
    quality = django_filters.ChoiceFilter(choices=SmtInterval.Quality.choices, empty_label="any quality")

    class Meta:
        model = SmtInterval
        fields = ["esiid", "meter", "channel", "quality"]

    def filter_local_from(self, queryset, name, value):
        return queryset.filter(ts__gte=day_bounds(value, value)[0])

    def filter_local_to(self, queryset, name, value):
        return queryset.filter(ts__lt=day_bounds(value, value)[1])


class BillingReadFilter(django_filters.FilterSet):
    esiid = django_filters.CharFilter(label="ESIID")
    date_from = django_filters.DateFilter(field_name="read_date", lookup_expr="gte", label="From day", widget=DateInput)
    date_to = django_filters.DateFilter(field_name="read_date", lookup_expr="lte", label="To day", widget=DateInput)

    class Meta:
        model = SmtBillingRead
        fields = ["esiid"]
