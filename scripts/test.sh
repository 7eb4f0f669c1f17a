#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh test), then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh test
export QT_QPA_PLATFORM=offscreen
# Tests never touch the user's real data folder.
PERSONA_STUDIO_DATA_DIR="$(mktemp -d)"
export PERSONA_STUDIO_DATA_DIR
trap 'rm -rf "$PERSONA_STUDIO_DATA_DIR"' EXIT
# Lint and formatting: a red CI says which file to run `ruff format` on.
.venv/bin/ruff check persona_studio tests bench scripts
.venv/bin/ruff format --check persona_studio tests bench scripts
# Types of the layers below the UI (the files are listed under [tool.mypy] in pyproject.toml).
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
