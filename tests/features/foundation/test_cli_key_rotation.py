"""``ostiary keys rotate`` while a key is still waiting to sign, run in-process on the test
clock (the real parser and handlers, so 601 seconds can pass in an instant): the command says
that the waiting key is superseded, and the newest rotation keeps signing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ostiary.cli.main import build_parser
from ostiary.services.container import Services


class FakeClock:
    """The type of the conftest ``clock`` fixture."""

    def advance(self, seconds: float) -> None:
        raise NotImplementedError


async def ostiary(
    services: Services, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[str, str]:
    """Run ``ostiary ARGV`` against ``services``; its (stdout, stderr)."""
    args = build_parser().parse_args(argv)
    assert 0 == await args.handler(services, args)
    captured = capsys.readouterr()
    return captured.out, captured.err


async def rotate_json(
    services: Services, capsys: pytest.CaptureFixture[str], delay: int
) -> tuple[dict[str, Any], str]:
    out, err = await ostiary(services, capsys, "keys", "rotate", "--delay", str(delay), "--json")
    return json.loads(out), err


async def test_an_emergency_rotation_on_the_cli_is_not_undone(
    services: Services, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """keys rotate --delay 600, keys rotate --delay 0, 601 s later: the second key signs, the
    first never became active, and `keys list` says it was superseded and by which key."""
    pending, _ = await rotate_json(services, capsys, 600)
    clock.advance(1)
    emergency, _ = await rotate_json(services, capsys, 0)
    clock.advance(601)

    listed = json.loads((await ostiary(services, capsys, "keys", "list", "--json"))[0])
    by_kid = {key["kid"]: (key["status"], key.get("superseded_by")) for key in listed}
    assert emergency["kid"] == (await services.keys.signing_key())[0]
    assert ("superseded", emergency["kid"]) == by_kid[pending["kid"]]
    assert ("active", None) == by_kid[emergency["kid"]]


async def test_rotate_json_names_the_superseded_key_and_warns_on_stderr(
    services: Services, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json: the document lists the superseded key; stderr says what happened to it; a
    rotation with nothing waiting supersedes nothing and prints nothing on stderr."""
    pending, quiet = await rotate_json(services, capsys, 600)
    clock.advance(1)
    emergency, warning = await rotate_json(services, capsys, 0)
    assert ([], "") == (pending["superseded"], quiet)
    assert [(pending["kid"], "superseded", emergency["kid"])] == [
        (key["kid"], key["status"], key["superseded_by"]) for key in emergency["superseded"]
    ]
    assert (
        f"ostiary: Key {pending['kid']} was waiting to sign from {pending['activates_at']}: "
        "this rotation superseded it, so it will never sign (the newest rotation wins).\n"
    ) == warning


async def test_rotate_text_output_says_the_waiting_key_will_never_sign(
    services: Services, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json the closing lines tell that the waiting key was superseded."""
    pending, _ = await rotate_json(services, capsys, 600)
    clock.advance(1)
    out, err = await ostiary(services, capsys, "keys", "rotate", "--delay", "0")
    assert "" == err
    assert (
        f"Key {pending['kid']} was waiting to sign from {pending['activates_at']}: this "
        "rotation superseded it, so it will never sign (the newest rotation wins)."
    ) == out.rstrip("\n").splitlines()[-1]
