from django import forms

from ops.models import Monitor


class MonitorFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "any state"), *Monitor.State.choices], required=False)
    kind = forms.ChoiceField(choices=[("", "any kind"), *Monitor.Kind.choices], required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        strip=True,
        error_messages={"required": "Give a reason (who is looking into it, or why it is safe)."},
    )
