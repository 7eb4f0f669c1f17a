#!/usr/bin/env bash
# Checks the built one-folder application the way a machine without Python would run it:
#
#   1. `persona-studio generate --type general_purpose_assistant --length concise` succeeds
#      with the bundled default model and prints a structured persona;
#   2. the window opens under Xvfb; a screenshot is saved; Ctrl+Q closes it cleanly (exit 0).
#
#   packaging/smoke_check.sh [PATH/TO/persona-studio]
#
# Each run of the application gets an empty environment (env -i): no virtualenv or PYTHON*
# variable, PATH=/usr/bin:/bin, a throwaway HOME and data folder. While each one runs, its
# memory maps are sampled, and the check fails if any file from a Python installation
# (a site-packages folder, the .venv, the system's libpython or stdlib) was loaded: that
# is what "works without Python" means here, even on a build machine that has Python.
#
# Environment: SMOKE_SCREENSHOT (default docs/screenshots/packaged-app.png),
# SMOKE_GENERATE_TIMEOUT (seconds, default 600), SMOKE_SKIP_WINDOW=1 / SMOKE_SKIP_GENERATE=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[smoke] %s\n' "$*" >&2; }
fail() { printf '[smoke] FAILED: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# -- inside Xvfb: the window check (this script runs itself under xvfb-run, see below) -------
if [ "${1:-}" = "--inside-xvfb" ]; then
  APP="$2" WORK="$3" SHOT="$4"
  # shellcheck source=/dev/null
  source "$WORK/functions.sh"
  log "starting the window on $DISPLAY"
  spawn_isolated "$WORK/window" DISPLAY="$DISPLAY" XAUTHORITY="${XAUTHORITY:-}" \
    QT_QPA_PLATFORM=xcb -- "$APP" >"$WORK/window.log" 2>&1
  pid=$SPAWNED
  sample_maps "$pid" "$WORK/window.maps" &
  # The window's title is set in its constructor; --onlyvisible waits for it to be mapped.
  if ! wid="$(timeout 90 xdotool search --sync --onlyvisible --name '^Persona Studio' | head -n 1)" \
      || [ -z "$wid" ]; then
    cat "$WORK/window.log" >&2
    kill "$pid" 2>/dev/null || true
    fail "no 'Persona Studio' window within 90 s"
  fi
  # Once the database is open the title names its file ("Persona Studio · forllm_data.db");
  # wait for that (up to 30 s) so the screenshot shows a ready window, not a half-built one.
  for _ in $(seq 60); do
    case "$(xdotool getwindowname "$wid" 2>/dev/null || true)" in *·*) break ;; esac
    sleep 0.5
  done
  sleep 2  # let the first paint of every widget land
  kill -0 "$pid" 2>/dev/null || { cat "$WORK/window.log" >&2; fail "the application exited on its own"; }
  log "window $wid: '$(xdotool getwindowname "$wid")', $(xdotool getwindowgeometry "$wid" | sed -n 's/ *Geometry: //p')"
  mkdir -p "$(dirname "$SHOT")"
  import -window "$wid" "$SHOT"
  log "screenshot: $SHOT"
  # Close it like a user: focus (no window manager here, so xdotool sets focus itself) and
  # press Ctrl+Q through XTEST. The window stops its worker, then the process exits 0.
  xdotool windowfocus --sync "$wid"
  xdotool key --clearmodifiers ctrl+q
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    fail "the window did not close within 30 s of Ctrl+Q"
  fi
  status=0; wait "$pid" || status=$?
  wait  # the maps sampler
  [ "$status" -eq 0 ] || { cat "$WORK/window.log" >&2; fail "the window exited with status $status"; }
  if grep -q "Traceback\|Uncaught exception" "$WORK/window.log" "$WORK/window/data/persona-studio.log" 2>/dev/null; then
    cat "$WORK/window.log" "$WORK/window/data/persona-studio.log" >&2 2>/dev/null || true
    fail "the window logged an exception"
  fi
  check_maps "$WORK/window.maps" "window"
  log "window: opened, screenshot taken, closed with status 0"
  exit 0
fi

# -- set-up ---------------------------------------------------------------------------------
APP="$(realpath -m "${1:-$ROOT/dist/persona-studio/persona-studio}")"
BUNDLE="$(dirname "$APP")"
SHOT="$(realpath -m "${SMOKE_SCREENSHOT:-$ROOT/docs/screenshots/packaged-app.png}")"
GENERATE_TIMEOUT="${SMOKE_GENERATE_TIMEOUT:-600}"
[ -x "$APP" ] || fail "$APP is not there; run packaging/build.sh first"

# Tools for the window check, from apt when missing (Debian/Ubuntu, as scripts/bootstrap.sh).
need=()
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v xdotool >/dev/null || need+=(xdotool)
command -v import >/dev/null || need+=(imagemagick)
if [ "${SMOKE_SKIP_WINDOW:-0}" != 1 ] && [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Shared with the --inside-xvfb run, which is a separate process.
cat >"$WORK/functions.sh" <<'EOF'
# spawn_isolated DIR [VAR=VALUE...] -- COMMAND...: starts COMMAND in the background with an
# empty environment, HOME and the data folder in DIR, one llama.cpp thread (the build
# machine may have 2 cores, shared); SPAWNED is its process id. `exec` makes that id the
# command's own, not a subshell's, so its memory maps and its exit status are the app's.
spawn_isolated() {
  local dir="$1"; shift
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  mkdir -p "$dir/home" "$dir/data"
  (exec env -i HOME="$dir/home" PATH=/usr/bin:/bin LANG=C.UTF-8 \
    PERSONA_STUDIO_DATA_DIR="$dir/data" PERSONA_STUDIO_THREADS=1 "${extra[@]}" "$@") &
  SPAWNED=$!
}

# sample_maps PID FILE: the files mapped by the process and its children (`timeout` runs
# the app as its child), every half second until it ends.
sample_maps() {
  local p
  while kill -0 "$1" 2>/dev/null; do
    for p in "$1" $(cat "/proc/$1/task/"*/children 2>/dev/null); do
      awk '$6 ~ /^\// {print $6}' "/proc/$p/maps" 2>/dev/null >>"$2" || true
    done
    sleep 0.5
  done
}

# check_maps FILE WHAT: fail if a file from a Python installation outside the bundle was
# mapped (its own libpython and extension modules live inside the bundle).
check_maps() {
  # The check means something only if the app's own maps were seen: its bundled libpython.
  grep -q "^$BUNDLE/_internal/libpython" "$1" 2>/dev/null \
    || { printf '[smoke] FAILED: no memory maps of the %s were sampled\n' "$2" >&2; exit 1; }
  local outside
  outside="$(sort -u "$1" | grep -v "^$BUNDLE/" \
    | grep -E '/site-packages/|/dist-packages/|/\.venv/|/lib/python3|libpython3' || true)"
  if [ -n "$outside" ]; then
    printf '[smoke] FAILED: the %s loaded files from a Python installation:\n%s\n' "$2" "$outside" >&2
    exit 1
  fi
  printf '[smoke] %s: %d files mapped, all of Python from the bundle\n' "$2" "$(sort -u "$1" | wc -l)" >&2
}
EOF
printf 'BUNDLE=%q\n' "$BUNDLE" >>"$WORK/functions.sh"
# shellcheck source=/dev/null
source "$WORK/functions.sh"

# -- 1. generate with the bundled model --------------------------------------------------------
if [ "${SMOKE_SKIP_GENERATE:-0}" != 1 ]; then
  log "generate --type general_purpose_assistant --length concise (bundled model, 1 thread)"
  started=$(date +%s)
  spawn_isolated "$WORK/generate" -- timeout "$GENERATE_TIMEOUT" "$APP" generate \
    --type general_purpose_assistant --length concise >"$WORK/persona.md" 2>"$WORK/generate.log"
  pid=$SPAWNED
  sample_maps "$pid" "$WORK/generate.maps" &
  status=0; wait "$pid" || status=$?
  wait
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$WORK/generate.log" >&2
    fail "generate exited with status $status"
  fi
  grep -q '^## Persona Name:' "$WORK/persona.md" || { cat "$WORK/persona.md" >&2; fail "no '## Persona Name:' in the output"; }
  check_maps "$WORK/generate.maps" "generate run"
  log "generate: OK in $(( $(date +%s) - started )) s; $(grep -E '^(expansion|refinement):' "$WORK/generate.log" | paste -sd ';' -)"
  echo "----- persona generated by the packaged app -----"
  cat "$WORK/persona.md"
  echo "--------------------------------------------------"
fi

# -- 2. the window under Xvfb ----------------------------------------------------------------
if [ "${SMOKE_SKIP_WINDOW:-0}" != 1 ]; then
  # 1920x1080: the window's default size fits whole, so the screenshot shows all of it.
  xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" \
    bash "${BASH_SOURCE[0]}" --inside-xvfb "$APP" "$WORK" "$SHOT"
fi
log "all checks passed"
