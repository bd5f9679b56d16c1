"""The Flask integration through Flask's test client, with the IdP calls going over HTTP to a
real Ostiary (uvicorn on 127.0.0.1)."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask, jsonify

from ostiary_client import OstiaryClient
from ostiary_client.flask import OstiaryAuth, current_token, require_token

APP = "http://flask.test"
REDIRECT_URI = f"{APP}/auth/callback"
HTML = {"Accept": "text/html"}


class FlaskParty:
    """A Flask app with ``OstiaryAuth``; ``browser`` holds the user's cookies at Ostiary."""

    def __init__(self, live, email: str) -> None:
        self.live = live
        self.email = email
        record, secret = live.call(
            live.services.apps.create(
                "Flask shop", "web", redirect_uris=[REDIRECT_URI],
                post_logout_redirect_uris=[f"{APP}/"],
            )
        )  # fmt: skip
        self.client_id = record.client_id
        self.client = OstiaryClient(live.issuer, record.client_id, secret.value)
        app = Flask(__name__)
        self.auth = OstiaryAuth(
            self.client, redirect_uri=REDIRECT_URI, app=app, post_logout_redirect_uri=f"{APP}/"
        )

        @app.get("/")
        def home():
            return "home"

        @app.get("/dashboard")
        @self.auth.login_required
        def dashboard():
            user = self.auth.user()
            return jsonify(sub=user.sub, sid=user.sid, email=user.email, at=user.access_token)

        @app.get("/api/orders")
        @require_token(self.client, scopes=["email"])
        def orders():
            return jsonify(sub=current_token().sub)

        @app.post("/api/orders")
        @require_token(self.client, scopes=["orders:write"])
        def create_order():
            return jsonify(created_by=current_token().sub)

        self.app = app
        self.http = app.test_client()
        self.browser = httpx.Client()

    def sign_in(self, path: str = "/dashboard"):
        """Open ``path`` signed out, go through Ostiary's login page, come back."""
        page = self.http.get(path, headers=HTML)
        assert 303 == page.status_code
        login = self.http.get(page.headers["Location"])
        assert login.headers["Location"].startswith(f"{self.live.issuer}/oauth/authorize?")
        callback = urlsplit(self.live.sign_in(self.browser, login.headers["Location"], self.email))
        assert REDIRECT_URI == f"{callback.scheme}://{callback.netloc}{callback.path}"
        back = self.http.get(f"{callback.path}?{callback.query}")
        assert 303 == back.status_code, back.text
        return self.http.get(back.headers["Location"], headers=HTML)

    def close(self) -> None:
        self.browser.close()
        self.client.close()


@pytest.fixture
def party(live_ostiary, unique_email):
    email = unique_email("flask")
    live_ostiary.user(email)
    party = FlaskParty(live_ostiary, email)
    yield party
    party.close()


def test_sign_in_and_protected_page(party):
    """login → Ostiary → callback → the protected page shows the signed-in user."""
    page = party.sign_in("/dashboard")
    assert 200 == page.status_code
    assert party.email == page.json["email"]
    cookie = party.http.get_cookie("ostiary_app_session")
    assert cookie is not None and cookie.http_only and "Lax" == cookie.same_site


def test_signed_out_api_call_gets_401(party):
    """An API-ish request without a session is answered 401, not redirected."""
    response = party.http.get("/dashboard", headers={"Accept": "application/json"})
    assert 401 == response.status_code
    assert "login_required" == response.json["error"]


def test_backchannel_logout_ends_the_local_session(party):
    """A logout token for the user's sid ends the Flask session (200); a forged one gets 400."""
    sid = party.sign_in("/dashboard").json["sid"]
    refused = party.http.post("/auth/backchannel-logout", data={"logout_token": "x.y.z"})
    assert 400 == refused.status_code
    now = int(time.time())
    claims = {
        "iss": party.live.issuer, "aud": party.client_id, "iat": now, "exp": now + 120,
        "jti": uuid.uuid4().hex, "sid": sid,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }  # fmt: skip
    token = party.live.call(party.live.services.keys.sign(claims, typ="logout+jwt"))
    assert (
        200 == party.http.post("/auth/backchannel-logout", data={"logout_token": token}).status_code
    )
    page = party.http.get("/dashboard", headers=HTML)
    assert 303 == page.status_code
    assert page.headers["Location"].startswith("/auth/login?returnTo=")


def test_logout_goes_through_ostiary(party):
    """/auth/logout clears the session and signs the user out at Ostiary, then comes back."""
    party.sign_in("/dashboard")
    assert "Sign out?" in party.http.get("/auth/logout").text  # no Sec-Fetch-Site: ask first
    out = party.http.post("/auth/logout", headers={"Origin": APP})
    assert 303 == out.status_code
    assert out.headers["Location"].startswith(f"{party.live.issuer}/oidc/logout?id_token_hint=")
    back = party.browser.get(out.headers["Location"])
    assert 303 == back.status_code
    assert f"{APP}/" == back.headers["location"]
    assert 303 == party.http.get("/dashboard", headers=HTML).status_code


def test_flask_api_requires_a_bearer_token(party):
    """require_token lets a valid access token through and answers RFC 6750 errors otherwise."""
    access_token = party.sign_in("/dashboard").json["at"]
    ok = party.http.get("/api/orders", headers={"Authorization": f"Bearer {access_token}"})
    assert 200 == ok.status_code
    missing = party.http.get("/api/orders")
    assert 401 == missing.status_code
    assert 'Bearer realm="api"' == missing.headers["WWW-Authenticate"]
    bad = party.http.get("/api/orders", headers={"Authorization": "Bearer x.y.z"})
    assert 401 == bad.status_code
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    forbidden = party.http.post("/api/orders", headers={"Authorization": f"Bearer {access_token}"})
    assert 403 == forbidden.status_code
    challenge = forbidden.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="orders:write"' in challenge
