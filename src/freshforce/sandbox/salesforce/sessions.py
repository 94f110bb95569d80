"""The org's OAuth side without HTTP: connected apps, user passwords, codes and issued tokens.

Tokens follow Salesforce: an access token starts with the 15-character org id and ``!``; a token
response has no ``expires_in`` (the session lasts until it times out, is revoked or is forced to
expire), ``issued_at`` is epoch milliseconds as a string, and ``signature`` is the base64
HMAC-SHA256 of ``id + issued_at`` keyed by the client secret. A refresh returns a new access token
and no new refresh token; revoking a refresh token ends every session issued from it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = ["ConnectedApp", "OAuthError", "Session", "Sessions", "TokenGrant"]

Clock = Callable[[], datetime]
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"  # noqa: S105 - an alphabet
CODE_LIFETIME = timedelta(minutes=15)


class OAuthError(Exception):
    """An OAuth failure: ``{"error","error_description"}`` with an HTTP status (400 mostly)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class ConnectedApp:
    """A connected app: the OAuth client a customer's integration registers."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()


@dataclass
class Session:
    """One issued access token and what it stands for."""

    access_token: str
    user_id: str
    client_id: str
    issued_at: datetime
    scope: str
    refresh_token: str | None = None
    expired: bool = False
    expires_at: datetime | None = None


@dataclass(frozen=True)
class TokenGrant:
    """What a token request hands back, ready to render as the token response."""

    session: Session
    refresh_token: str | None
    identity_path: str
    signing_key: bytes = field(repr=False)

    def response(self, instance_url: str) -> dict[str, str]:
        """Return the token response; ``id`` and ``signature`` depend on the URL served from."""
        issued_at = str(int(self.session.issued_at.timestamp() * 1000))
        identity = instance_url + self.identity_path
        mac = hmac.new(self.signing_key, f"{identity}{issued_at}".encode(), hashlib.sha256)
        body = {
            "access_token": self.session.access_token,
            "signature": base64.b64encode(mac.digest()).decode(),
            "scope": self.session.scope,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    user_id: str
    scope: str
    issued_at: datetime
    code_challenge: str | None


@dataclass
class Sessions:
    """Connected apps, credentials and live tokens of one org."""

    org_id: str
    clock: Clock
    rng: random.Random = field(default_factory=random.SystemRandom)
    session_timeout: timedelta | None = timedelta(hours=2)
    # Set by ``freshforce sandbox --auto-approve``: authorize as this user without the login form.
    auto_approve_user: str | None = None
    _apps: dict[str, ConnectedApp] = field(default_factory=dict)
    _passwords: dict[str, tuple[str, str]] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _sessions: dict[str, Session] = field(default_factory=dict)
    _refresh: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    # ------------------------------------------------------------ setup

    def register_app(self, app: ConnectedApp) -> None:
        self._apps[app.client_id] = app

    def set_password(self, username: str, user_id: str, password: str) -> None:
        """Let ``username`` log in with ``password`` (stored as a hash, never logged)."""
        self._passwords[username.lower()] = (user_id, _hash(password))

    def app(self, client_id: str) -> ConnectedApp:
        found = self._apps.get(client_id)
        if found is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return found

    # ------------------------------------------------------------ flows

    def has_user(self, username: str) -> bool:
        """Tell whether ``username`` logs in to this org (a sandbox of several orgs asks)."""
        return username.lower() in self._passwords

    def has_code(self, code: str) -> bool:
        """Tell whether this org issued the authorization code ``code`` (not yet exchanged)."""
        return code in self._codes

    def check_login(self, username: str, password: str) -> str:
        """Return the user id for valid credentials, or raise ``invalid_grant``."""
        found = self._passwords.get(username.lower())
        if found is None or not hmac.compare_digest(found[1], _hash(password)):
            raise OAuthError("invalid_grant", "authentication failure")
        return found[0]

    def authorize(
        self,
        client_id: str,
        redirect_uri: str,
        user_id: str,
        scope: str,
        code_challenge: str | None = None,
    ) -> str:
        """Record an approved authorization and return the one-time code."""
        self.check_redirect(client_id, redirect_uri)
        code = "aPrx" + self._random(40)
        self._codes[code] = _Code(
            client_id, redirect_uri, user_id, scope, self.clock(), code_challenge
        )
        return code

    def check_redirect(self, client_id: str, redirect_uri: str) -> None:
        app = self.app(client_id)
        if app.redirect_uris and redirect_uri not in app.redirect_uris:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")

    def exchange_code(
        self,
        client_id: str,
        client_secret: str | None,
        code: str,
        redirect_uri: str,
        code_verifier: str | None = None,
    ) -> TokenGrant:
        """Trade an authorization code for tokens (refresh token included)."""
        app = self._client(client_id, client_secret)
        found = self._codes.pop(code, None)
        if found is None or found.client_id != app.client_id:
            raise OAuthError("invalid_grant", "invalid authorization code")
        if self.clock() - found.issued_at > CODE_LIFETIME:
            raise OAuthError("invalid_grant", "expired authorization code")
        if found.redirect_uri != redirect_uri:
            raise OAuthError("redirect_uri_mismatch", "redirect_uri must match configuration")
        if found.code_challenge is not None and not _pkce_ok(found.code_challenge, code_verifier):
            raise OAuthError("invalid_grant", "invalid code verifier")
        refresh_token = self.org_id[:15] + "!" + self._random(80)
        self._refresh[refresh_token] = (found.user_id, app.client_id, found.scope)
        return self._grant(app, found.user_id, found.scope, refresh_token, return_refresh=True)

    def refresh(self, client_id: str, client_secret: str | None, refresh_token: str) -> TokenGrant:
        """Issue a new access token from a refresh token; the refresh token stays the same."""
        app = self._client(client_id, client_secret, secret_optional=True)
        found = self._refresh.get(refresh_token)
        if found is None or found[1] != app.client_id:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        user_id, _, scope = found
        return self._grant(app, user_id, scope, refresh_token, return_refresh=False)

    def password_login(
        self, client_id: str, client_secret: str | None, username: str, password: str
    ) -> TokenGrant:
        """Log in with the username-password flow: a session, no refresh token."""
        app = self._client(client_id, client_secret)
        user_id = self.check_login(username, password)
        return self._grant(app, user_id, "api", None, return_refresh=False)

    def mint(
        self, user_id: str, client_id: str = "sandbox", expires_in: int | None = None
    ) -> Session:
        """Issue an access token directly (the admin API and tests use it)."""
        now = self.clock()
        expires_at = now + timedelta(seconds=expires_in) if expires_in else None
        session = Session(
            self._access_token(), user_id, client_id, now, "api full", expires_at=expires_at
        )
        self._sessions[session.access_token] = session
        return session

    def revoke(self, token: str) -> None:
        """End a session, or a refresh token and every session issued from it."""
        if token in self._refresh:
            del self._refresh[token]
            for key in [k for k, s in self._sessions.items() if s.refresh_token == token]:
                del self._sessions[key]
            return
        if self._sessions.pop(token, None) is None:
            raise OAuthError("invalid_token", "invalid token")

    def authenticate(self, access_token: str) -> Session | None:
        """Return the live session for a bearer token, or ``None`` (expired, revoked, unknown)."""
        session = self._sessions.get(access_token)
        if session is None or session.expired:
            return None
        now = self.clock()
        timed_out = (
            self.session_timeout is not None and now - session.issued_at > self.session_timeout
        )
        if timed_out or (session.expires_at is not None and now >= session.expires_at):
            session.expired = True
            return None
        return session

    def peek(self, access_token: str) -> Session | None:
        """Return the session a token was issued as, live or not, changing nothing (None: unknown).

        The fault middleware uses it to name a caller before the request is handled.
        """
        return self._sessions.get(access_token)

    def expire(self, access_token: str | None = None) -> int:
        """Force one session (or all) to expire; return how many did."""
        targets = [s for s in self._sessions.values() if access_token in {None, s.access_token}]
        for session in targets:
            session.expired = True
        return len(targets)

    def reset(self) -> None:
        self._codes.clear()
        self._sessions.clear()
        self._refresh.clear()

    # ------------------------------------------------------------ internals

    def _client(
        self, client_id: str, client_secret: str | None, secret_optional: bool = False
    ) -> ConnectedApp:
        app = self.app(client_id)
        if client_secret is None and secret_optional:
            return app
        if client_secret is None or not hmac.compare_digest(client_secret, app.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")
        return app

    def _grant(
        self,
        app: ConnectedApp,
        user_id: str,
        scope: str,
        refresh_token: str | None,
        *,
        return_refresh: bool,
    ) -> TokenGrant:
        now = self.clock()
        session = Session(self._access_token(), user_id, app.client_id, now, scope, refresh_token)
        self._sessions[session.access_token] = session
        returned = refresh_token if return_refresh else None
        identity_path = f"/id/{self.org_id}/{user_id}"
        return TokenGrant(session, returned, identity_path, app.client_secret.encode())

    def _access_token(self) -> str:
        return self.org_id[:15] + "!" + self._random(96)

    def _random(self, length: int) -> str:
        return "".join(self.rng.choice(_TOKEN_ALPHABET) for _ in range(length))


def _hash(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _pkce_ok(challenge: str, verifier: str | None) -> bool:
    if verifier is None:
        return False
    digest = hashlib.sha256(verifier.encode()).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(expected, challenge)
