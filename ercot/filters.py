import django_filters
from django.db.models import Q

from config.widgets import DateInput
from ercot.models import ErcotIngest


def tdsp_choices() -> list[tuple[str, str]]:
    codes = ErcotIngest.objects.exclude(tdsp="").order_by("tdsp").values_list("tdsp", flat=True).distinct()
    return [(code, code) for code in codes]


class ErcotIngestFilter(django_filters.FilterSet):
    file_date = django_filters.DateFilter(label="Date (CT)", widget=DateInput)
    tdsp = django_filters.ChoiceFilter(choices=tdsp_choices, empty_label="any TDSP", label="TDSP")
    kind = django_filters.ChoiceFilter(choices=ErcotIngest.Kind.choices, empty_label="any kind")
    status = django_filters.ChoiceFilter(choices=ErcotIngest.Status.choices, empty_label="any status")

    class Meta:
        model = ErcotIngest
        fields = ["file_date", "tdsp", "kind", "status"]


def esiid_search(queryset, query: str):
    """Digits: an ESIID prefix, or a ZIP code when 5 or 9 digits; anything else: the address."""
    query = " ".join(query.split())
    if not query:
        return queryset.none()
    if query.isdigit():
        if len(query) in (5, 9):
            return queryset.filter(Q(zipcode__startswith=query) | Q(esiid__startswith=query))
        return queryset.filter(esiid__startswith=query)
    return queryset.filter(address__icontains=query)
