#!/usr/bin/env bash
# `manage.py check --deploy --fail-level WARNING` under an env file (default
# deploy/wattledger.env.example): the production settings must pass Django's deploy checks.
# A random key stands in for SECRET_KEY_FILE. Usage: bin/check-deploy.sh [ENV_FILE]
set -euo pipefail
env_file=$(realpath "${1:-$(dirname "$0")/../deploy/wattledger.env.example}")
cd "$(dirname "$0")/.."
secret=$(mktemp)
trap 'rm -f "$secret"' EXIT
.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' >"$secret"
# A clean environment: only the example's variables, as systemd's EnvironmentFile= gives them.
mapfile -t vars < <(grep -E '^[A-Z_][A-Z0-9_]*=' "$env_file")
env -i PATH="$PATH" HOME="${HOME:-/tmp}" LANG="${LANG:-C.UTF-8}" "${vars[@]}" \
  SECRET_KEY_FILE="$secret" FILE_UPLOAD_TEMP_DIR="" .venv/bin/python manage.py check --deploy --fail-level WARNING
