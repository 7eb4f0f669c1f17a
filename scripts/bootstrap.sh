#!/usr/bin/env bash
# Sets up everything Persona Studio needs on a fresh Debian/Ubuntu machine with Python 3.11:
# system libraries (apt), a virtualenv in .venv, and the Python dependencies.
#
#   scripts/bootstrap.sh          the application
#   scripts/bootstrap.sh test     the application and the test tools
#
# llama-cpp-python has no binary wheel for Linux on PyPI, so it is compiled once (about 4
# minutes on 2 cores) and the wheel is kept in ~/.cache/persona-studio/wheels, keyed by
# version and build flags, so later set-ups (and CI runs on the same machine) reuse it.
# The build targets any x86-64 CPU with AVX2 rather than the build machine's exact CPU:
# a wheel built for one machine's newest instructions crashes on another (we saw it happen).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE="${1:-app}"
LLAMA_CPP_VERSION="0.3.36"

log() { printf '[setup] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# -- system packages --------------------------------------------------------------------------
APT_PACKAGES=(python3-venv build-essential cmake
  # Qt's xcb platform plugin (the window on a Linux desktop) and fonts
  libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libegl1 libgl1
  libfontconfig1 libdbus-1-3 fonts-dejavu-core)
if [ "$MODE" = "test" ]; then
  APT_PACKAGES+=(xvfb)
fi
missing=()
if command -v dpkg-query >/dev/null; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- Python ------------------------------------------------------------------------------------
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { log "Python 3.11 or newer is required"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null

CMAKE_ARGS_PORTABLE="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_OPENMP=OFF"
if ! "$VPY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_VERSION')" 2>/dev/null; then
  key="$(printf '%s %s %s' "$LLAMA_CPP_VERSION" "$CMAKE_ARGS_PORTABLE" "$("$VPY" -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-16)"
  WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/persona-studio/wheels/$key"
  if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    log "compiling llama-cpp-python $LLAMA_CPP_VERSION (once, about 4 minutes on 2 cores)"
    mkdir -p "$WHEELS"
    CMAKE_ARGS="$CMAKE_ARGS_PORTABLE" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$VPY" -m pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
      -w "$WHEELS" "llama-cpp-python==$LLAMA_CPP_VERSION"
  fi
  "$VPY" -m pip install -q --no-deps --force-reinstall "$WHEELS"/llama_cpp_python-*.whl
fi

if [ "$MODE" = "test" ]; then
  "$VPY" -m pip install -q -e ".[test]"
else
  "$VPY" -m pip install -q -e .
fi
log "ready: $ROOT/.venv"
