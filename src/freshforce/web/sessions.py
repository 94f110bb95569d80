"""Signed session cookies and the CSRF tokens bound to them.

A cookie holds the user name, a fingerprint of the user's password hash (so a new password ends
every old session), a random nonce and when it was issued, signed with HMAC-SHA256. The CSRF token
of a session is an HMAC of its nonce, so a form posted from another site cannot carry it. The key
is ``web_session_key``, else derived from the first encryption key; it is never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from freshforce.settings import Settings

__all__ = ["SESSION_COOKIE", "Session", "SessionSigner", "password_fingerprint", "session_key"]

SESSION_COOKIE = "ff_session"
SESSION_LIFETIME = timedelta(hours=12)
# Dashboards behind one load balancer read each other's cookies; their clocks may differ a little.
CLOCK_SKEW = timedelta(minutes=1)


def session_key(settings: Settings) -> bytes:
    """Return the signing key: ``web_session_key``, else one derived from the encryption key."""
    explicit = settings.web_session_key.get_secret_value()
    if explicit:
        return explicit.encode()
    if settings.encryption_keys:
        base = settings.encryption_keys[0].get_secret_value().encode()
        return hmac.new(base, b"freshforce web session key", hashlib.sha256).digest()
    return secrets.token_bytes(32)  # no key configured: sessions last as long as the process


def password_fingerprint(password_hash: str) -> str:
    """Return a short digest of a password hash: it changes when the password does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Session:
    """What a valid cookie says."""

    username: str
    fingerprint: str
    nonce: str
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Makes and reads session cookies and CSRF tokens with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "SessionSigner(key=***)"

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def issue(self, *, username: str, password_hash: str, now: datetime) -> tuple[str, Session]:
        """Return a new cookie value and the session it carries."""
        session = Session(
            username=username,
            fingerprint=password_fingerprint(password_hash),
            nonce=secrets.token_urlsafe(16),
            issued_at=now,
        )
        body = json.dumps(
            {
                "u": session.username,
                "f": session.fingerprint,
                "n": session.nonce,
                "t": int(now.timestamp()),
            },
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}", session

    def read(self, cookie: str | None, *, now: datetime) -> Session | None:
        """Return the session of a cookie, or None when it is missing, forged or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body_text, mac_text = cookie.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        data = json.loads(body)
        issued = datetime.fromtimestamp(int(data["t"]), tz=now.tzinfo)
        if not issued - CLOCK_SKEW <= now < issued + SESSION_LIFETIME + timedelta(seconds=1):
            return None
        return Session(
            username=str(data["u"]),
            fingerprint=str(data["f"]),
            nonce=str(data["n"]),
            issued_at=issued,
        )

    def seal(self, purpose: str, data: dict[str, str | int | None]) -> str:
        """Return ``data`` signed for ``purpose``, for a short-lived cookie of its own."""
        body = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(purpose.encode() + b':' + body))}"

    def unseal(self, purpose: str, value: str | None) -> dict[str, str | int | None] | None:
        """Return what :meth:`seal` signed for ``purpose``, or None when missing or forged."""
        if not value or value.count(".") != 1:
            return None
        body_text, mac_text = value.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(purpose.encode() + b":" + body)):
            return None
        data: dict[str, str | int | None] = json.loads(body)
        return data

    def csrf_token(self, session: Session) -> str:
        """Return the CSRF token every form of ``session`` must post back."""
        return _b64(self._mac(f"csrf:{session.nonce}".encode()))

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Say whether ``token`` is the CSRF token of ``session`` (constant time)."""
        return token is not None and hmac.compare_digest(token, self.csrf_token(session))
