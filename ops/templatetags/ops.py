import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ops.models import Monitor

register = template.Library()


@register.simple_tag
def monitors_down() -> int:
    """For the nav: how many monitors are down (an indexed count on every staff page)."""
    return Monitor.objects.filter(state=Monitor.State.DOWN).count()


# A site path in a log line ("/api/admin/ercot/cron/health names what is missing"): made a link,
# so a hint can be followed with one click. Only paths that start with one of our own prefixes.
SITE_PATH = re.compile(r"(?<![\w/])(/(?:api|ercot|smt|telemetry|ops|admin)/[\w\-/.]*[\w/])")


@register.filter
def log_links(text: str) -> SafeString:
    """Escape a log and turn the site paths in it into links."""
    return mark_safe(SITE_PATH.sub(r'<a href="\1">\1</a>', escape(text)))
