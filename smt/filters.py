import django_filters

from smt.models import RawSmtFile


class RawSmtFileFilter(django_filters.FilterSet):
    filename = django_filters.CharFilter(lookup_expr="icontains", label="File name")
    esiid_hint = django_filters.CharFilter(lookup_expr="startswith", label="ESIID")
    source = django_filters.CharFilter(lookup_expr="iexact")
    status = django_filters.ChoiceFilter(choices=RawSmtFile.Status.choices, empty_label="any status")
    received_after = django_filters.DateFilter(field_name="received_at", lookup_expr="date__gte", label="Received from")

    class Meta:
        model = RawSmtFile
        fields = ["filename", "esiid_hint", "source", "status", "received_after"]
