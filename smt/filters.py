from datetime import UTC

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone
from django_filters.fields import IsoDateTimeField

from config.widgets import DateInput
from smt.models import RawSmtFile, SmtBillingRead, SmtInterval
from smt.usage import day_bounds


class RawSmtFileFilter(django_filters.FilterSet):
    filename = django_filters.CharFilter(lookup_expr="icontains", label="File name")
    esiid_hint = django_filters.CharFilter(method="filter_esiid", label="ESIID")
    source = django_filters.CharFilter(lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=RawSmtFile.Status.choices, empty_label="any status")
    received_after = django_filters.DateFilter(
        field_name="received_at", lookup_expr="date__gte", label="Received from", widget=DateInput
    )

    class Meta:
        model = RawSmtFile
        fields = ["filename", "esiid_hint", "source", "status", "received_after"]

    def filter_esiid(self, queryset, name, value):
        # The ESIID given at upload, or one found in the file by normalize (uploads often give none).
        return queryset.filter(Q(esiid_hint__startswith=value) | Q(stats__esiids__icontains=value))


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class UtcDateTimeField(IsoDateTimeField):
    """A time without an offset is UTC, as the label says (not the site's Central time)."""

    def to_python(self, value):
        with timezone.override(UTC):
            return super().to_python(value)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IntervalFilter(django_filters.FilterSet):
    """Filters that keep to the (esiid, ts) index: equality on ESIID, ranges on ts."""

    esiid = django_filters.CharFilter(label="ESIID")
    meter = django_filters.CharFilter()
    channel = django_filters.ChoiceFilter(choices=SmtInterval.Channel.choices, empty_label="any channel")
    utc_from = UtcDateTimeFilter(field_name="ts", lookup_expr="gte", label="From (UTC)", widget=DateTimeInput)
    utc_to = UtcDateTimeFilter(field_name="ts", lookup_expr="lt", label="To (UTC, exclusive)", widget=DateTimeInput)
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
