"""The demo web app's profile page shows token times as dates a person can read."""

from __future__ import annotations

from examples.web.app import claims_table


def test_time_claims_are_shown_as_utc_dates_with_the_raw_number() -> None:
    """iat, exp and auth_time read as UTC dates (the number stays, in brackets); other numbers
    and strings are left alone."""
    table = claims_table({"iat": 1796688000, "exp": 1796688300, "auth_time": 1796687999, "n": 5})
    expected_iat = (
        '<tr><th>iat</th><td><time datetime="2026-12-08T00:00:00+00:00">'
        '08 Dec 2026, 00:00:00 UTC</time> <span class="raw">(1796688000)</span></td></tr>'
    )
    assert expected_iat in table
    assert "08 Dec 2026, 00:05:00 UTC" in table
    assert "07 Dec 2026, 23:59:59 UTC" in table
    assert "<tr><th>n</th><td>5</td></tr>" in table
