#!/usr/bin/env bash
# Install Masklet's menu entry and icons for the current user (freedesktop: XDG data dirs).
#
#   bash packaging/linux/install-desktop.sh [MASKLET_EXECUTABLE]     # default: `masklet` on PATH
#   bash packaging/linux/install-desktop.sh --uninstall
#
# MASKLET_EXECUTABLE may be the pip-installed `masklet` script or the frozen packaging/dist/masklet/masklet.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$(dirname "$HERE")")"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor"
SIZES="16 24 32 48 64 128 256 512"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$APPS/masklet.desktop" "$ICONS/scalable/apps/masklet.svg"
    for s in $SIZES; do rm -f "$ICONS/${s}x${s}/apps/masklet.png"; done
    echo "removed the Masklet menu entry and icons from $DATA"
else
    EXE="${1:-$(command -v masklet || true)}"
    if [ -z "$EXE" ] || [ ! -x "$EXE" ]; then
        echo "masklet executable not found: install Masklet first or pass its path" >&2
        exit 2
    fi
    EXE="$(cd "$(dirname "$EXE")" && pwd)/$(basename "$EXE")"
    mkdir -p "$APPS" "$ICONS/scalable/apps"
    for s in $SIZES; do
        mkdir -p "$ICONS/${s}x${s}/apps"
        install -m 644 "$ROOT/resources/icons/masklet-$s.png" "$ICONS/${s}x${s}/apps/masklet.png"
    done
    install -m 644 "$ROOT/resources/icons/masklet.svg" "$ICONS/scalable/apps/masklet.svg"
    # Absolute Exec/TryExec: a menu entry must not depend on the login shell's PATH (venvs).
    sed -e "s|^Exec=masklet|Exec=\"$EXE\"|" -e "s|^TryExec=masklet|TryExec=$EXE|" \
        "$HERE/masklet.desktop" > "$APPS/masklet.desktop"
    chmod 644 "$APPS/masklet.desktop"
    echo "installed $APPS/masklet.desktop -> $EXE"
    if command -v desktop-file-validate >/dev/null 2>&1; then desktop-file-validate "$APPS/masklet.desktop"; fi
fi
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
