#!/usr/bin/env bash
# Set up the platform on a fresh machine: a virtual environment in .venv with the exact,
# tested-together versions of requirements.lock, and the platform itself (editable).
# Safe to run again: an up-to-date environment is left as it is.
# --tests: also the PostgreSQL the test suite needs (infra/test-postgres.sh), as README's test
# command asks.
set -euo pipefail
TESTS=0
for arg in "$@"; do
  case $arg in
    --tests) TESTS=1 ;;
    -h|--help) echo "usage: bash infra/bootstrap.sh [--tests]  (--tests: also start the test suite's PostgreSQL)"; exit 0 ;;
    *) echo "bootstrap.sh: unknown option '$arg' (known: --tests)" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The dashboard's browser tests drive Debian's Chromium (Playwright never downloads one), and
# Hangul renders as boxes without a Korean font: both come from the system's packages.
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi nanum; then
  SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-nanum fontconfig >/dev/null
fi
if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
UV="$(command -v uv || echo "$PY -m uv")"
[ -x .venv/bin/python ] || $UV venv --quiet --python 3.11 .venv
# Bytecode compiled at install: a machine that sets PYTHONDONTWRITEBYTECODE (ours do) would
# otherwise compile every imported module from source in every process (Airflow, pandas and
# pyspark: 9.9 s to import, 4.5 s compiled), and the suite starts hundreds of processes.
$UV pip sync --quiet --compile-bytecode --python .venv/bin/python requirements.lock
$UV pip install --quiet --python .venv/bin/python --no-deps -e .
.venv/bin/python -m compileall -q -j 0 lcdp jobs models schemas dags >/dev/null
# The official Delta Sharing client in an environment of its own, as a consumer would have it
# (its pins conflict with ours): the sharing tests drive it from there.
[ -x .venv-sharing/bin/python ] || $UV venv --quiet --python 3.11 .venv-sharing
$UV pip sync --quiet --compile-bytecode --python .venv-sharing/bin/python infra/sharing-client.lock
# An existing platform home (LCDP_HOME set, the folder there) upgrades its metadata schema in
# place (Alembic; lcdp up and every command that opens the database do the same)
if [ -n "${LCDP_HOME:-}" ] && [ -d "${LCDP_HOME}" ]; then
  .venv/bin/lcdp db upgrade
fi
if [ "$TESTS" = 1 ]; then
  bash infra/test-postgres.sh
fi
