#!/usr/bin/env bash
# Set up (scripts/bootstrap.sh), then run Persona Studio. Arguments go to the persona-studio
# command; with none, it generates an example persona with the built-in model.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
if [ "$#" -eq 0 ]; then
  set -- generate --type from_name_and_description --name "Captain Nemo" \
    --description "Brooding submarine captain, brilliant engineer, speaks in grand sentences"
fi
exec .venv/bin/persona-studio "$@"
