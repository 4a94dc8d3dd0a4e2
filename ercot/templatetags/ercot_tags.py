from django import template

from config.texas import parse_esiid
from ercot.models import EsiidRecord

register = template.Library()


@register.inclusion_tag("ercot/_esiid_record.html")
def esiid_record(esiid: str) -> dict:
    """The ERCOT master record of an ESIID, for the SMT pages."""
    esiid = parse_esiid(esiid or "")  # None for anything that is not an ESIID: nothing shown
    record = EsiidRecord.objects.filter(pk=esiid).first() if esiid else None
    return {"esiid": esiid, "record": record, "loaded": record is not None or EsiidRecord.objects.exists()}
