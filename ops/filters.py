"""django-filter FilterSets of the ops pages."""

import django_filters

from ops.models import JobRun


class JobRunFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=JobRun.Kind.choices, empty_label="any job")
    status = django_filters.ChoiceFilter(choices=JobRun.Status.choices, empty_label="any status")
    trigger = django_filters.ChoiceFilter(choices=JobRun.Trigger.choices, empty_label="any trigger")

    class Meta:
        model = JobRun
        fields = ["kind", "status", "trigger"]
