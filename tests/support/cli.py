"""The real ``ostiary`` command as a subprocess, with a clean OSTIARY_* environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["DATABASE_LINE", "FAST_ARGON2", "OSTIARY", "SAFETY_TIMEOUT", "cli", "error_lines"]

OSTIARY = shutil.which("ostiary", path=os.path.dirname(sys.executable))
FAST_ARGON2 = {
    "OSTIARY_ARGON2_TIME_COST": "1",
    "OSTIARY_ARGON2_MEMORY_KIB": "8192",
    "OSTIARY_ARGON2_PARALLELISM": "1",
}
SAFETY_TIMEOUT = 60  # seconds; only so a hung command cannot hang the suite
DATABASE_LINE = "ostiary: using the database "  # what data commands print first on stderr


def error_lines(stderr: str) -> list[str]:
    """What a CLI command printed on stderr, less the line naming its database."""
    return [line for line in stderr.strip().splitlines() if not line.startswith(DATABASE_LINE)]


def cli(
    data_dir: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ostiary ARGS`` with a clean OSTIARY_* environment and the given data folder."""
    assert OSTIARY is not None, "the ostiary console script is not installed in this venv"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSTIARY_")}
    environ.update({"OSTIARY_DATA_DIR": str(data_dir), **FAST_ARGON2, **(env or {})})
    return subprocess.run(
        [OSTIARY, *args],
        env=environ,
        cwd=data_dir.parent,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
    )
