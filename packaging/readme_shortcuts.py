"""Write the README's shortcut tables from the one action table (app/ui/actions.py).

    QT_QPA_PLATFORM=offscreen python packaging/readme_shortcuts.py          # rewrite README.md
    QT_QPA_PLATFORM=offscreen python packaging/readme_shortcuts.py --check  # exit 1 if it is stale

The tables sit between the ``<!-- shortcuts -->`` and ``<!-- /shortcuts -->`` markers;
tests/test_resources.py fails when they drift from the actions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BEGIN, END = "<!-- shortcuts -->", "<!-- /shortcuts -->"


def shortcuts_markdown() -> str:
    sys.path.insert(0, str(ROOT))
    from app.ui.actions import ACTIONS, GESTURES

    lines = ["| keys | command | menu |", "| --- | --- | --- |"]
    numbered = []
    for action in ACTIONS:
        if not action.shortcuts:
            continue
        if action.name.startswith("select_object_"):
            numbered.append(action.shortcuts[0])
            continue
        keys = " / ".join(f"`{k}`" for k in action.shortcuts)
        menu = action.menu.replace("&", "") or "—"
        lines.append(f"| {keys} | {action.text.replace('&', '').rstrip('…')} | {menu} |")
    if numbered:
        first, last = numbered[0], numbered[-1]
        lines.append(f"| `{first}` … `{last}` | Select object {first}–{last} | — |")
    lines += ["", "| mouse on the frame | does |", "| --- | --- |"]
    lines += [f"| {gesture} | {what} |" for gesture, what in GESTURES]
    return "\n".join(lines)


def render(readme: str) -> str:
    start, stop = readme.find(BEGIN), readme.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"{README}: markers {BEGIN} ... {END} not found")
    return readme[: start + len(BEGIN)] + "\n" + shortcuts_markdown() + "\n" + readme[stop:]


def main() -> int:
    parser = argparse.ArgumentParser(description="README shortcut tables from app/ui/actions.py")
    parser.add_argument("--check", action="store_true", help="only report whether README.md is stale")
    args = parser.parse_args()
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        print("README shortcuts are up to date" if wanted == current else "README shortcuts are stale")
        return 0 if wanted == current else 1
    README.write_text(wanted, encoding="utf-8")
    print(f"wrote {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
