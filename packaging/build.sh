#!/usr/bin/env bash
# Build the one-folder Masklet app with PyInstaller from a clean virtual environment, then run the
# built app's --self-check offscreen. Slow (minutes) and outside CI.
#
#   bash packaging/build.sh            # -> packaging/dist/masklet/masklet
#   PYTHON=python3.11 bash packaging/build.sh
#
# The CPU torch wheel keeps CUDA out of the build: `pip install torch==2.13.0` is installed first
# (on Linux x86_64, PyPI's default torch is the CUDA build; use the CPU index there, see README.md).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PYTHON="${PYTHON:-python3}"
BUILD="$HERE/build"
DIST="$HERE/dist"
VENV="$BUILD/venv"

rm -rf "$BUILD/work" "$DIST"
mkdir -p "$BUILD"
if [ ! -x "$VENV/bin/python" ] || [ "${FRESH_VENV:-1}" = 1 ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"
echo "== installing into a clean venv ($VENV)"
pip install -q torch==2.13.0
pip install -q "$ROOT[package]"
python - <<'PY'
import torch
print("torch", torch.__version__, "CUDA build" if torch.version.cuda else "CPU build")
PY

echo "== PyInstaller"
start=$(date +%s)
# Run from a neutral folder so the spec analyses the installed packages' sources via pathex (ROOT).
pyinstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/work" "$HERE/masklet.spec"
echo "built in $(( $(date +%s) - start )) s"

APP="$DIST/masklet"
if [ "$(uname -s)" = Linux ] && command -v strip >/dev/null 2>&1; then
    # torch's own libraries carry symbol tables (~90 MB); PyInstaller's global strip is off because
    # it corrupts the auditwheel-patched numpy/OpenCV libraries, so strip only these. The
    # self-check below proves the result still runs.
    before=$(du -sm "$APP" | cut -f1)
    find "$APP/_internal/torch/lib" -name '*.so*' -type f -exec strip --strip-unneeded {} +
    echo "stripped torch's libraries: ${before} MB -> $(du -sm "$APP" | cut -f1) MB"
fi
echo "== checks"
cuda=$(find "$APP" -type f \( -iname 'libcu*' -o -iname 'libnvidia*' -o -iname 'libnccl*' -o -iname 'libcudnn*' \
    -o -iname 'libnvrtc*' -o -iname 'libnvjitlink*' \) | head -5)
if [ -n "$cuda" ]; then
    echo "CUDA libraries in a CPU build:"; echo "$cuda"; exit 1
fi
du -sh "$APP"
echo "largest files:"
find "$APP" -type f -printf '%s %P\n' | sort -rn | awk 'NR <= 8 {printf "  %7.1f MB  %s\n", $1/1048576, $2}'

"$APP/masklet" --version
# A throwaway home so the check never touches the builder's settings or logs.
MASKLET_HOME="$(mktemp -d)" QT_QPA_PLATFORM=offscreen "$APP/masklet" --self-check
echo "== self-check of the built app passed: $APP/masklet"
