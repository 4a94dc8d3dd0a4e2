from django import template

from ops.models import Monitor

register = template.Library()


@register.simple_tag
def monitors_down() -> int:
    """For the nav: how many monitors are down (an indexed count on every staff page)."""
    return Monitor.objects.filter(state=Monitor.State.DOWN).count()
