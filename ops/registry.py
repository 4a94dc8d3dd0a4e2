"""Where the source apps tell ops what to watch and what to count.

The arrows point one way: smt, ercot and telemetry import ops; ops imports none of them. Each
app's `monitors.py` calls `register_kind` and `register_metrics` at import, and ops finds those
modules the way the admin finds `admin.py` (`autodiscover_modules("monitors")` in
`OpsConfig.ready`), so ops names no source app and an app without a `monitors.py` is simply
not watched.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from prometheus_client.core import Metric


@dataclass(frozen=True)
class Observed:
    """What one subject looks like now: its display name, up/late/down, and why."""

    subject: str
    state: str
    evidence: str


class Evaluator(Protocol):
    """Set-based: one query (or two) for every subject of the kind, never one per subject.

    Returns {key: Observed} for the subjects it sees; `watched` holds the keys that already have
    a monitor. A watched key left out of the result is up again (see `cleared`).
    """

    def __call__(self, *, now: datetime, watched: set[str]) -> dict[str, Observed]: ...


@dataclass(frozen=True)
class Kind:
    evaluate: Evaluator
    cleared: str


KINDS: dict[str, Kind] = {}
MetricSource = Callable[[datetime], Iterable[Metric]]
METRICS: list[MetricSource] = []


def register_kind(kind: str, evaluate: Evaluator, *, cleared: str = "all clear") -> Evaluator:
    """Register the evaluator of a monitor kind; `cleared` is the evidence when a subject drops out."""
    KINDS[kind] = Kind(evaluate, cleared)
    return evaluate


def register_metrics(source: MetricSource) -> MetricSource:
    """Register a function yielding Prometheus metric families, read from the database at scrape time."""
    if source not in METRICS:
        METRICS.append(source)
    return source


def kind_evaluate(kind: str, *, now: datetime, watched: set[str]) -> dict[str, Observed]:
    return KINDS[kind].evaluate(now=now, watched=watched)


def kind_cleared(kind: str) -> str:
    return KINDS[kind].cleared


def metrics_collect(now: datetime) -> Iterator[Metric]:
    for source in METRICS:
        yield from source(now)
