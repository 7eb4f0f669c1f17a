#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh), then run Persona Studio: the window, or with arguments the
# persona-studio command (e.g. `generate --type general_purpose_assistant`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
exec .venv/bin/persona-studio "$@"
