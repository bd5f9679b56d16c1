"""Run several ``ostiary`` CLI commands in one process (``LiveServer.cli_many``).

Reads ``[{"argv": [...], "stdin": "..."}, ...]`` as JSON on standard input, calls the console
script's entry point ``ostiary.cli.main.main(argv)`` for each in order with that text as its
standard input, and prints ``[{"returncode", "stdout", "stderr"}, ...]`` as JSON. Stops after
the first command that fails. Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from typing import Any

from ostiary.cli.main import main


def run_one(argv: list[str], stdin: str) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    real_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdin = real_stdin
    return {"returncode": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def run(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for command in commands:
        results.append(run_one(list(command["argv"]), str(command.get("stdin") or "")))
        if results[-1]["returncode"] != 0:
            break
    return results


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(json.load(sys.stdin))) + "\n")
