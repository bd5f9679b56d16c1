"""Email over SMTP to a real server on 127.0.0.1 (aiosmtpd): the background worker sends the
outbox, and when the server is down the message waits and is retried after 30 s."""

from __future__ import annotations

from email_helpers import MakeDriver, SmtpSink, free_port, link_in
from flow_helpers import EMAIL, AdvancingClock

from ostiary.domain.email import MessageStatus

FROM = "Ostiary Tests <auth@ostiary.test>"


def _smtp(port: int) -> dict[str, str]:
    return {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_SECURITY": "none",
        "EMAIL_FROM": FROM,
    }


async def test_password_reset_email_is_delivered_over_smtp(
    make_driver: MakeDriver, smtp_sink: SmtpSink
) -> None:
    """One message to the user, From = OSTIARY_EMAIL_FROM, link in text, HTML alternative."""
    driver = await make_driver(**_smtp(smtp_sink.port))
    await driver.user()
    assert 200 == (await driver.forgot(EMAIL)).status_code
    queued = await driver.latest(EMAIL, "password_reset")
    assert (MessageStatus.PENDING, 0) == (queued.status, queued.attempts)

    await driver.services.worker.run_once()

    received = smtp_sink.to(EMAIL)
    assert 1 == len(smtp_sink.received) == len(received)
    got = received[0]
    assert ([EMAIL], EMAIL, FROM) == (got.rcpt_tos, got.message["To"], got.message["From"])
    assert "auth@ostiary.test" == got.mail_from
    assert "Reset your password · Ostiary" == got.message["Subject"]
    assert "multipart/alternative" == got.message.get_content_type()
    link = link_in(got.part("plain"), "/ui/password/reset")
    assert link == link_in(queued.text_body or "", "/ui/password/reset")
    assert f'href="{link}"' in got.part("html")
    row = await driver.latest(EMAIL, "password_reset")
    assert (MessageStatus.SENT, 1, None) == (row.status, row.attempts, row.last_error)
    await driver.services.worker.run_once()  # nothing is sent twice
    assert 1 == len(smtp_sink.received)


async def test_smtp_down_keeps_the_message_pending_and_a_retry_delivers_it(
    make_driver: MakeDriver, clock: AdvancingClock
) -> None:
    """Nothing listens: pending, attempts=1, last_error; 30 s later with a server: delivered."""
    port = free_port()
    driver = await make_driver(**_smtp(port))
    await driver.user()
    assert 200 == (await driver.forgot(EMAIL)).status_code
    await driver.services.worker.run_once()
    failed = await driver.latest(EMAIL, "password_reset")
    assert (MessageStatus.PENDING, 1) == (failed.status, failed.attempts)
    assert failed.last_error is not None and failed.last_error != ""

    sink = SmtpSink(port)
    sink.start()
    try:
        clock.advance(29)  # not yet due: no attempt
        await driver.services.worker.run_once()
        assert ([], 1) == (sink.received, (await driver.latest(EMAIL, "password_reset")).attempts)
        clock.advance(2)
        await driver.services.worker.run_once()
        assert [[EMAIL]] == [r.rcpt_tos for r in sink.received]
    finally:
        sink.stop()
    sent = await driver.latest(EMAIL, "password_reset")
    assert (MessageStatus.SENT, 2, None) == (sent.status, sent.attempts, sent.last_error)
    assert link_in(sent.text_body or "", "/ui/password/reset") in sink.received[0].part("plain")


async def test_message_is_failed_and_its_body_removed_after_the_last_retry(
    make_driver: MakeDriver, clock: AdvancingClock
) -> None:
    """Six refused attempts (now, +30 s, +2 min, +10 min, +30 min, +1 h): status failed, no body."""
    driver = await make_driver(**_smtp(free_port()))
    await driver.user()
    assert 200 == (await driver.forgot(EMAIL)).status_code
    attempts = []
    for delay in (30, 120, 600, 1800, 3600, 3600):
        await driver.services.worker.run_once()
        row = await driver.latest(EMAIL, "password_reset")
        attempts.append((row.status.value, row.attempts))
        clock.advance(delay)
    assert [("pending", n) for n in range(1, 6)] + [("failed", 6)] == attempts
    failed = await driver.latest(EMAIL, "password_reset")
    assert (None, None, True) == (failed.text_body, failed.html_body, bool(failed.last_error))


async def test_an_address_with_a_line_break_cannot_block_other_email(
    make_driver: MakeDriver, smtp_sink: SmtpSink, clock: AdvancingClock
) -> None:
    """A sign-in request for "x@y\\r\\nBcc: …" must not stop the worker sending others' mail."""
    driver = await make_driver(**_smtp(smtp_sink.port))
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    await driver.ask_for_email(form, "victim@example.com\r\nBcc: evil@example.com")
    clock.advance(1)
    assert 200 == (await driver.forgot(EMAIL)).status_code
    errors = []
    for _ in range(3):
        try:
            await driver.services.worker.run_once()
        except Exception as exc:
            errors.append(type(exc).__name__)
        clock.advance(61)  # past the 60 s lease
    delivered = [r.rcpt_tos for r in smtp_sink.received]
    assert ([], [[EMAIL]]) == (errors, delivered)
