"""The arrows: source apps register with ops; ops imports no source app."""

import ast
from pathlib import Path

import pytest

from ops import registry
from ops.models import Monitor

OPS = Path(__file__).resolve().parents[2] / "ops"
SOURCE_APPS = {"smt", "ercot", "telemetry"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_ops_module_imports_a_source_app():
    offenders = {
        str(path.relative_to(OPS.parent)): sorted(m for m in imported_modules(path) if m.split(".")[0] in SOURCE_APPS)
        for path in OPS.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_every_monitor_kind_is_registered_by_its_app():
    assert set(registry.KINDS) == set(Monitor.Kind.values)
    owners = {kind: entry.evaluate.__module__ for kind, entry in registry.KINDS.items()}
    assert owners["smt-data"] == "smt.monitors" and owners["ercot-fetch"] == "ercot.monitors"
    assert owners["subscriber"] == "telemetry.monitors" and owners["workers"] == "ops.evaluate"


@pytest.mark.django_db
def test_the_apps_metrics_reach_the_scrape(staff_client):
    text = staff_client.get("/metrics").content.decode()
    for name in (
        "wattledger_smt_raw_files",
        "wattledger_devices",
        "wattledger_telemetry_messages_malformed",
        "wattledger_monitors",
        "wattledger_smt_normalize_seconds_bucket",
    ):
        assert name in text
