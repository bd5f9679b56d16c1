"""Apache httpd with mod_auth_openidc (Debian's ``apache2`` and ``libapache2-mod-auth-openidc``)
as a relying party of a live Ostiary, for ``test_mod_auth_openidc.py``.

``ApacheRP(port)`` knows its URLs (to register the app with Ostiary first); ``.start(issuer,
client_id, client_secret)`` writes its own ``httpd.conf`` into a fresh folder (nothing under
/etc/apache2 is read or changed) and runs ``apache2 -f <conf> -DFOREGROUND`` on 127.0.0.1 at that
port:

    /protected/claims         protected: a CGI that prints the OIDC_CLAIM_* variables
    /protected/redirect_uri   OIDCRedirectURI: the callback, and mod_auth_openidc's hooks
                              (?info=json, ?refresh=…, ?logout=…, ?logout=backchannel)
    /signed-out.html          unprotected: where RP-initiated logout lands

The folder is made with ``tempfile.mkdtemp`` and opened to everyone (0755), because Apache
started as root runs its children (and the CGI) as ``www-data``, who cannot enter pytest's
private (0700) temporary folders. Only the client secret, the crypto passphrase and the error log
live there, and the folder is removed when Apache stops.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

APACHE = Path("/usr/sbin/apache2")
MODULES = Path("/usr/lib/apache2/modules")
# The modules the config loads: the MPM, what `AuthType`/`Require valid-user` need,
# ScriptAlias, CGI, content types, and mod_auth_openidc itself.
MODULE_FILES = {
    "mpm_prefork_module": "mod_mpm_prefork.so",
    "authn_core_module": "mod_authn_core.so",
    "authz_core_module": "mod_authz_core.so",
    "authz_user_module": "mod_authz_user.so",
    "alias_module": "mod_alias.so",
    "cgi_module": "mod_cgi.so",
    "mime_module": "mod_mime.so",
    "auth_openidc_module": "mod_auth_openidc.so",
}
STARTUP_TIMEOUT = 20.0
CLAIMS_CGI = """#!/bin/sh
printf 'Content-Type: text/plain; charset=utf-8\\r\\nCache-Control: no-store\\r\\n\\r\\n'
printf 'Signed in through mod_auth_openidc\\n'
printf 'email: %s\\n' "$OIDC_CLAIM_email"
printf 'name: %s\\n' "$OIDC_CLAIM_name"
printf 'sub: %s\\n' "$OIDC_CLAIM_sub"
printf 'sid: %s\\n' "$OIDC_CLAIM_sid"
printf 'remote_user: %s\\n' "$REMOTE_USER"
"""
SIGNED_OUT_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>Signed out</title></head>"
    "<body><h1>Signed out of the Apache app</h1></body></html>\n"
)


def missing_parts() -> list[str]:
    """What of Apache + mod_auth_openidc is not installed (empty when everything is)."""
    needed = [APACHE, *(MODULES / name for name in MODULE_FILES.values())]
    return [str(path) for path in needed if not path.exists()]


@dataclass
class ApacheRP:
    """A running Apache with mod_auth_openidc protecting ``/protected`` for one Ostiary app."""

    port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ostiary-apache-")))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def redirect_uri(self) -> str:
        """OIDCRedirectURI (the Ostiary app's redirect URI)."""
        return f"{self.base}/protected/redirect_uri"

    @property
    def backchannel_uri(self) -> str:
        """Where mod_auth_openidc takes logout tokens (the app's back-channel logout URI)."""
        return f"{self.redirect_uri}?logout=backchannel"

    @property
    def claims_url(self) -> str:
        return f"{self.base}/protected/claims"

    @property
    def signed_out_url(self) -> str:
        return f"{self.base}/signed-out.html"

    @property
    def info_url(self) -> str:
        return f"{self.redirect_uri}?info=json"

    def refresh_url(self, return_to: str, access_token: str) -> str:
        """mod_auth_openidc's refresh hook: refresh now, then redirect to ``return_to``."""
        return (
            f"{self.redirect_uri}?{urlencode({'refresh': return_to, 'access_token': access_token})}"
        )

    def logout_url(self, return_to: str) -> str:
        """mod_auth_openidc's logout hook: end the local session, then RP-initiated logout at the
        provider with ``return_to`` as the post-logout redirect URI."""
        return f"{self.redirect_uri}?{urlencode({'logout': return_to})}"

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, *, issuer: str, client_id: str, client_secret: str) -> None:
        """Write the config for this Ostiary app and start Apache; fails with the error log."""
        root = self.root
        root.chmod(0o755)
        self._write_files(issuer, client_id, client_secret)
        with (root / "stdout.log").open("wb") as out:
            self.process = subprocess.Popen(
                [str(APACHE), "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            )
        problem = self._wait_listening()
        if problem is not None:
            output = (root / "stdout.log").read_text(errors="replace")
            log = self.error_log()
            self.stop()
            raise AssertionError(
                f"apache2 did not start: {problem}\n--- output ---\n{output}\n"
                f"--- error log ---\n{log}"
            )

    def _write_files(self, issuer: str, client_id: str, client_secret: str) -> None:
        for folder in ("htdocs", "cgi", "run"):
            (self.root / folder).mkdir(mode=0o755)
        page = self.root / "htdocs" / "signed-out.html"
        page.write_text(SIGNED_OUT_PAGE)
        page.chmod(0o644)
        cgi = self.root / "cgi" / "claims.cgi"
        cgi.write_text(CLAIMS_CGI)
        cgi.chmod(0o755)
        conf = self.root / "httpd.conf"
        conf.write_text(self._config(issuer, client_id, client_secret))
        conf.chmod(0o600)

    def _config(self, issuer: str, client_id: str, client_secret: str) -> str:
        loads = "\n".join(
            f'LoadModule {module} "{MODULES / file}"' for module, file in MODULE_FILES.items()
        )
        # Started as root, Apache's children switch to this user; otherwise it is ignored.
        user = "User www-data\nGroup www-data" if os.geteuid() == 0 else ""
        return f"""# Written by tests/interop/apache_harness.py for one test module.
ServerRoot "{self.root}"
DefaultRuntimeDir "{self.root}/run"
PidFile "{self.root}/run/httpd.pid"
ErrorLog "{self.root}/error.log"
LogLevel warn auth_openidc:info
Listen 127.0.0.1:{self.port}
ServerName 127.0.0.1:{self.port}
{user}
{loads}

StartServers 2
MinSpareServers 1
MaxSpareServers 4
MaxRequestWorkers 16

TypesConfig /dev/null
AddType text/html .html
DocumentRoot "{self.root}/htdocs"
<Directory "{self.root}/htdocs">
    Require all granted
</Directory>

ScriptAlias /protected/claims "{self.root}/cgi/claims.cgi"
<Directory "{self.root}/cgi">
    Options +ExecCGI
    Require all granted
</Directory>

OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{self.port}/protected/redirect_uri
OIDCCryptoPassphrase {secrets.token_urlsafe(32)}
OIDCScope "openid email profile offline_access"
OIDCPKCEMethod S256
OIDCSessionType server-cache
OIDCCacheType shm
OIDCPassClaimsAs environment
OIDCInfoHook iat access_token access_token_expires refresh_token id_token userinfo session

<Location /protected>
    AuthType openid-connect
    Require valid-user
</Location>
"""

    def _wait_listening(self) -> str | None:
        """None once ``/signed-out.html`` answers; otherwise why not."""
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return f"apache2 exited with code {code}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"GET /signed-out.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                    status = sock.recv(64).decode("latin-1").split("\r\n")[0]
                if " 200 " in status:
                    return None
                last = status
            except OSError as err:
                last = f"{type(err).__name__}: {err}"
            time.sleep(0.1)
        return f"not ready after {STARTUP_TIMEOUT:.0f}s ({last})"

    def stop(self) -> None:
        """Stop Apache (SIGTERM to its process group, SIGKILL if it lingers); remove the folder."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)
