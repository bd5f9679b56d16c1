"""How the CLI prints: JSON for scripts (``--json``), aligned text for people."""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["emit", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def emit(data: Any, *, as_json: bool, columns: Sequence[str] | None = None) -> None:
    """Print one object (a mapping) or a list of them (a table with ``columns``)."""
    data = to_jsonable(data)
    if as_json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if isinstance(data, list):
        _table(data, columns or (list(data[0]) if data else []))
        return
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) if value else "-"
        print(f"{key.ljust(width)}  {'-' if value is None or value == '' else value}")


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)
