"""Where devices are: effective-dated assignments to locations.

A device registers itself unassigned at its first message; staff then put it somewhere, and that
first assignment covers all its history (its readings belong where staff put it). Each later
assignment moves the device from a local day in TELEMETRY_TIME_ZONE on, so the days before stay
with the location the device was in. Device.location is the current location, kept in step here.
"""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from telemetry import totals
from telemetry.models import Device, DeviceAssignment, Location


def device_assign(
    *, device: Device, location: Location | None, effective_from: date | None, assigned_by: str, note: str = ""
) -> DeviceAssignment:
    """Put `device` at `location` (None: unassigned) from the local day `effective_from` (today
    when None) and return the assignment now in effect.

    The first assignment of a never-assigned device covers all its history, whatever the day.
    A later one on the same day as the latest replaces it (and simply undoes the move when it
    names the location the device was in before). Raises ValidationError, changing nothing, for
    a day in the future, a day before the latest assignment's, or no change at all."""
    today = totals.local_day(timezone.now())
    day = effective_from or today
    if day > today:
        raise ValidationError(
            {
                "effective_from": f"{day} is after today ({today}, {totals.local_zone().key}); "
                "a move takes effect today at the latest."
            }
        )
    with transaction.atomic():
        # The row lock serialises two staff assigning the same device at once.
        device = Device.objects.select_for_update().get(pk=device.pk)
        history = list(device.assignments.select_related("location"))
        current = _assignment_write(
            device=device,
            history=history,
            location=location,
            day=day,
            stamp={"assigned_by": assigned_by, "assigned_at": timezone.now(), "note": note},
        )
        device.location = current.location
        device.save(update_fields=["location"])
    return current


def _where(location: Location | None) -> str:
    return location.name if location else "no location"


def _assignment_write(
    *, device: Device, history: list[DeviceAssignment], location: Location | None, day: date, stamp: dict
) -> DeviceAssignment:
    if not history:
        if location is None:
            raise ValidationError({"location": f"{device} is not assigned yet; choose a location."})
        return _saved(DeviceAssignment(device=device, location=location, effective_from=None, **stamp))
    latest = history[-1]
    if latest.location_id == (location.pk if location else None):
        raise ValidationError({"location": f"{device} is already in {_where(location)}."})
    if latest.effective_from is not None and day < latest.effective_from:
        raise ValidationError(
            {
                "effective_from": f"{device} is in {_where(latest.location)} from {latest.effective_from}; "
                f"a move cannot take effect before that day."
            }
        )
    if latest.effective_from != day:
        return _saved(DeviceAssignment(device=device, location=location, effective_from=day, **stamp))
    previous = history[-2] if len(history) > 1 else None
    if previous is not None and previous.location_id == (location.pk if location else None):
        latest.delete()  # back where it was before: that day's move is undone
        return previous
    latest.location = location
    for field, value in stamp.items():
        setattr(latest, field, value)
    return _saved(latest)


def _saved(assignment: DeviceAssignment) -> DeviceAssignment:
    assignment.full_clean()
    assignment.save()
    return assignment
