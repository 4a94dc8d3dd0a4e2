"""The settings module: every variable it reads is documented, and bad values are refused by name."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def settings_variables() -> set[str]:
    source = (ROOT / "config" / "settings.py").read_text()
    return set(re.findall(r'\benv(?:bool|int|list)?\(\s*"([A-Z][A-Z0-9_]*)"', source))


def documented_variables() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))


def test_every_variable_the_settings_read_is_in_env_example():
    assert len(settings_variables()) > 40  # the regex really finds them
    missing = settings_variables() - documented_variables()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def load_settings(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in overrides} | {"DEBUG": "true"} | overrides
    code = "import django; from django.conf import settings; django.setup(); print(settings.SMT_UPLOAD_MAX_BYTES)"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_value_is_refused_naming_the_variable():
    result = load_settings(SMT_UPLOAD_MAX_BYTES="half a gig")
    assert result.returncode != 0 and "SMT_UPLOAD_MAX_BYTES must be an integer" in result.stderr
    result = load_settings(DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr


def test_secrets_can_come_from_files(tmp_path):
    limit = tmp_path / "limit"
    limit.write_text("1234\n")
    result = load_settings(SMT_UPLOAD_MAX_BYTES_FILE=str(limit))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "1234"


def test_manage_py_check_on_sqlite_prints_no_covering_index_warning():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert "W040" not in result.stdout + result.stderr
