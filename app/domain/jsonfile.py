"""Reading a user's JSON file (prompts, COCO, YouTube-VIS ...) with every failure a clear, typed error.

A missing file, a folder, a permission problem, bytes that are not UTF-8, broken JSON, nesting deeper
than Python can parse (``[[[[...`` 200,000 levels) or a number with thousands of digits all become the
caller's error type (a ``ValueError``) naming the file and the problem — never a ``RecursionError``
or an internal exception name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: str | Path, error: type[Exception]) -> Any:
    """Parse ``path`` as UTF-8 JSON (a BOM is allowed); any problem raises ``error(message)``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except IsADirectoryError as exc:
        raise error(f"{path}: is a folder, not a JSON file") from exc
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file") from exc
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise error(f"{path}: is empty, not JSON")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: is not a UTF-8 text file (byte {exc.start}), so not JSON") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except RecursionError as exc:
        raise error(f"{path}: JSON nested too deeply to be read") from exc
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{path}: not usable JSON ({exc})") from exc
