"""Counts in messages: "1 second", never "1 seconds"."""

from __future__ import annotations

import pytest

from ostiary.domain.wording import counted
from ostiary.services.email_flows import EmailRateLimited


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 seconds"), (1, "1 second"), (2, "2 seconds"), (90, "90 seconds")]
)
def test_a_count_is_singular_only_for_one(count: int, expected: str) -> None:
    """The unit takes an s for every count but one."""
    assert expected == counted(count, "second")


def test_the_email_rate_limit_says_1_second() -> None:
    """A one-second wait for the next email is worded in the singular."""
    expected = "Too many emails were requested. Wait 1 second, then try again."
    assert expected == str(EmailRateLimited(1))
