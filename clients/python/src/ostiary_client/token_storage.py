"""Where a desktop app keeps its tokens between runs: the OS keyring (Secret Service or KWallet
on Linux, Keychain on macOS, Credential Manager on Windows) through ``keyring``, or — where no
keyring exists, e.g. a headless server — a JSON file readable only by the user (mode 0600),
announced once with a clear warning.

Only what a later run needs is stored: the refresh token, the ID token (the logout hint) and
its claims. The short-lived access token stays in memory (Windows limits a credential to
2.5 KB).
"""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "FileTokenStorage",
    "KeyringTokenStorage",
    "TokenStorage",
    "default_token_storage",
    "user_config_dir",
]

_warned: set[Path] = set()
_warned_lock = threading.Lock()


@runtime_checkable
class TokenStorage(Protocol):
    """Load, save and delete one JSON-ready dict."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, data: dict[str, Any]) -> None: ...

    def delete(self) -> None: ...


def user_config_dir(app_name: str) -> Path:
    """The per-user configuration folder of ``app_name`` on this OS."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / app_name


class FileTokenStorage:
    """A JSON file with mode 0600 in a folder with mode 0700, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            if mode & 0o077 and os.name == "posix":
                self.path.chmod(0o600)  # someone loosened it: tighten before reading
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)


class KeyringTokenStorage:
    """One keyring entry (``service``, ``username``) holding the JSON. When the keyring turns
    out to be unusable (``NoKeyringError``), it falls back to ``fallback`` with the warning."""

    def __init__(
        self,
        service: str,
        username: str,
        *,
        fallback: Path | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.username = username
        self._fallback_path = fallback
        self._fallback: FileTokenStorage | None = None
        self._warn = warn

    def _switch(self, reason: str) -> FileTokenStorage:
        if self._fallback_path is None:
            raise RuntimeError(f"no usable keyring ({reason}) and no fallback file configured")
        if self._fallback is None:
            self._fallback = FileTokenStorage(self._fallback_path)
            warn_file_fallback(self._fallback_path, reason, self._warn)
        return self._fallback

    def load(self) -> dict[str, Any] | None:
        if self._fallback is not None:
            return self._fallback.load()
        import keyring
        from keyring.errors import NoKeyringError

        try:
            raw = keyring.get_password(self.service, self.username)
        except NoKeyringError as err:
            return self._switch(str(err)).load()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def save(self, data: dict[str, Any]) -> None:
        if self._fallback is not None:
            self._fallback.save(data)
            return
        import keyring
        from keyring.errors import NoKeyringError

        try:
            keyring.set_password(self.service, self.username, json.dumps(data))
        except NoKeyringError as err:
            self._switch(str(err)).save(data)

    def delete(self) -> None:
        if self._fallback is not None:
            self._fallback.delete()
            return
        import keyring
        from keyring.errors import NoKeyringError, PasswordDeleteError

        try:
            keyring.delete_password(self.service, self.username)
        except PasswordDeleteError:
            pass  # nothing stored
        except NoKeyringError as err:
            self._switch(str(err)).delete()


def warn_file_fallback(path: Path, reason: str, warn: Callable[[str], None] | None = None) -> None:
    """Say once per file (and process) that tokens are kept in a plain file."""
    with _warned_lock:
        if path in _warned:
            return
        _warned.add(path)
    message = (
        f"WARNING: no OS keyring is available ({reason}). Your sign-in tokens will be kept in "
        f"{path}, a file only your user account can read (mode 0600), but not encrypted. "
        "Install and unlock a keyring (e.g. GNOME Keyring or KWallet) to store them securely."
    )
    if warn is not None:
        warn(message)
    else:
        print(message, file=sys.stderr)


def _keyring_unusable() -> str | None:
    """Why the keyring cannot be used here, or None when it can."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except ImportError:
        return "the keyring package is not installed"
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return f"keyring backend {type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return "no keyring backend found"
    return None


def default_token_storage(
    app_name: str, client_id: str, *, warn: Callable[[str], None] | None = None
) -> TokenStorage:
    """The OS keyring when there is a usable one, else the 0600 file (with a warning)."""
    fallback = user_config_dir(app_name) / "ostiary-tokens.json"
    reason = _keyring_unusable()
    if reason is not None:
        warn_file_fallback(fallback, reason, warn)
        return FileTokenStorage(fallback)
    return KeyringTokenStorage(f"ostiary:{app_name}", client_id, fallback=fallback, warn=warn)
