#!/usr/bin/env bash
# Set up trustecon from nothing: a virtual environment in .venv with the project and its extras.
# Idempotent; safe to run again. Usage: bash scripts/setup.sh [extras]   (default: test,spark,serve)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test,spark,serve}"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
# A headless browser for the report/dashboard tests (Debian's chromium). Needs root and apt; the tests
# that use it skip with a reason where it is absent.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "setup: could not install chromium; browser tests will skip" >&2
fi
echo "setup: ready (.venv with extras ${extras})"
