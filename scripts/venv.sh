# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/local-fleet.sh: creates the project's venv ($VENV,
# default .venv) with moto and cfn-lint (scripts/requirements-test.txt) on first use.
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ]; then
  echo "==> creating $VENV with moto and cfn-lint (first use)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
fi
