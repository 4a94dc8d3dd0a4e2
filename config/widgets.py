"""Form widgets shared by every app's forms and filters."""

from django import forms


class DateInput(forms.DateInput):
    """The browser's own date picker instead of a free text box."""

    input_type = "date"
