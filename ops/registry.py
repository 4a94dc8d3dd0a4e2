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


@dataclass(frozen=True)
class States:
    """A kind's answer for many subjects with the words left out: each key's state, and
    `describe` to build the Observed (display name, evidence) of one key. The check calls it only
    for the keys it writes, new monitors and changes of state, so a kind of 100,000 subjects that
    stay up builds no evidence text at all."""

    states: dict[str, str]
    describe: Callable[[str], Observed]

    @classmethod
    def of(cls, observed: dict[str, Observed]) -> "States":
        return cls({key: seen.state for key, seen in observed.items()}, observed.__getitem__)


class Evaluator(Protocol):
    """Set-based: one query (or two) for every subject of the kind, never one per subject.

    Returns {key: Observed} for the subjects it sees (or States, for kinds with many subjects);
    `watched` holds the keys that already have a monitor. A watched key left out of the result
    is up again (see `cleared`).
    """

    def __call__(self, *, now: datetime, watched: set[str]) -> dict[str, Observed] | States: ...


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


def kind_evaluate(kind: str, *, now: datetime, watched: set[str]) -> dict[str, Observed] | States:
    return KINDS[kind].evaluate(now=now, watched=watched)


def kind_states(kind: str, *, now: datetime, watched: set[str]) -> States:
    """The kind's evaluation as States, whichever form its evaluator returns."""
    found = kind_evaluate(kind, now=now, watched=watched)
    return found if isinstance(found, States) else States.of(found)


def kind_cleared(kind: str) -> str:
    return KINDS[kind].cleared


def metrics_collect(now: datetime) -> Iterator[Metric]:
    for source in METRICS:
        yield from source(now)
