"""The import arrows run one way (docs/ARCHITECTURE.md): smt, ercot, telemetry -> ops -> the
shared config modules. Read from every module's import statements (ast), function-level imports
included, so a lazy import cannot slip an arrow the wrong way."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_APPS = ("smt", "ercot", "telemetry")
SHARED = ("config.htmx", "config.errors", "config.admin", "config.widgets", "config.charts", "config.texas")
# What smt may take from another source app: ERCOT's ESIID check, nothing else.
SMT_MAY_IMPORT = {"ercot.esiids": {"esiid_warnings"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> dict[str, ast.Module]:
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[module_name(path)] = ast.parse(path.read_text(), str(path))
    return found


def imports(tree: ast.Module, here: str) -> list[tuple[str, str | None]]:
    """(module, name) for every import in the tree; name is None for `import x`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative (none today): resolved as if `here` were a module, not a package
                package = here.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            found += [(base, alias.name) for alias in node.names]
    return found


def targets(tree: ast.Module, here: str) -> set[str]:
    """Every module the tree imports, `from a import b` counted as a.b too (b may be a module)."""
    out = set()
    for module, name in imports(tree, here):
        out.add(module)
        if name:
            out.add(f"{module}.{name}")
    return out


def within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def offenders(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, tree in modules(*packages).items()
        for target in targets(tree, name)
        if any(within(target, f) for f in forbidden)
    )


def test_no_ercot_or_telemetry_module_imports_smt():
    assert offenders(("ercot", "telemetry"), ("smt",)) == []


def test_ercot_and_telemetry_import_no_other_source_app():
    assert offenders(("ercot",), ("telemetry",)) == [] and offenders(("telemetry",), ("ercot",)) == []


def test_ops_imports_no_source_app():
    # ops reaches the apps by dotted strings resolved at run time (import_string, django-q2 funcs).
    assert offenders(("ops",), SOURCE_APPS) == []


def test_the_shared_config_modules_import_no_app():
    shared = {name: tree for name, tree in modules("config").items() if name in SHARED}
    assert set(shared) == set(SHARED)  # every shared module is really read
    bad = sorted(
        f"{name} imports {target}"
        for name, tree in shared.items()
        for target in targets(tree, name)
        if any(within(target, app) for app in (*SOURCE_APPS, "ops"))
    )
    assert bad == []


def test_smt_takes_only_the_esiid_check_from_ercot_and_nothing_from_telemetry():
    bad = []
    for name, tree in modules("smt").items():
        for module, imported in imports(tree, name):
            if within(module, "telemetry") or (
                within(module, "ercot") and imported not in SMT_MAY_IMPORT.get(module, set())
            ):
                bad.append(f"{name} imports {module}{'.' + imported if imported else ''}")
    assert bad == []


def test_no_module_imports_another_modules_private_name():
    bad = []
    for name, tree in modules(*SOURCE_APPS, "ops", "config").items():
        for module, imported in imports(tree, name):
            if imported and imported.startswith("_") and not imported.startswith("__") and module != name:
                bad.append(f"{name} imports {module}.{imported}")
    assert bad == []


def test_the_rules_see_a_wrong_way_import_in_a_function_body():
    tree = ast.parse("def f():\n    from smt.models import House\n    from telemetry import _x\n")
    assert targets(tree, "ercot.views") >= {"smt.models", "smt.models.House"}
    assert ("telemetry", "_x") in imports(tree, "ercot.views")
