"""The one door from smt to ERCOT: warnings for ESIIDs that ERCOT's master table does not list
as Active. Every smt module asks here, so smt depends on ercot through this function alone."""

from collections.abc import Iterable

from ercot.esiids import esiid_warnings


def ercot_esiid_warnings(esiids: Iterable[str]) -> list[dict]:
    """`[{esiid, problem}]` for ESIIDs unknown to ERCOT's extract or not Active (see ercot.esiids)."""
    return esiid_warnings(esiids)
