#!/usr/bin/env bash
# Creates bench/peers/.venv (Python 3.11) with the peer benchmark's pinned packages.
# Idempotent: a stamp records the requirement files it installed; rerun after editing them.
# Usage: bash bench/peers/setup.sh   [PYTHON311=/path/to/python3.11]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
stamp="$venv/.peers-installed"

if [ -z "${PYTHON311:-}" ]; then
  # pyenv's shim refuses python3.11 without PYENV_VERSION; ask pyenv for the real path.
  if command -v pyenv >/dev/null 2>&1; then
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.11\.[0-9]+$' | tail -1 || true)
    [ -n "$v" ] && PYTHON311="$(pyenv root)/versions/$v/bin/python3.11"
  fi
  PYTHON311="${PYTHON311:-$(command -v python3.11 || command -v python3)}"
fi
if ! "$PYTHON311" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null; then
  echo "bench/peers needs Python 3.11 (the disk's torch 2.13.0 CPU wheel is cp311); pass PYTHON311=..." >&2
  exit 1
fi
want="$(cat "$here/requirements.txt" "$here/requirements-nodeps.txt" | sha256sum)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setting up $venv with $PYTHON311 (first time: about 6 minutes, ~2.5 GB)"
[ -x "$venv/bin/python" ] || "$PYTHON311" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$here/requirements-nodeps.txt"
echo "$want" > "$stamp"
