"""FreshBooks OAuth 2.0 state: the app, authorization codes, access and single-use refresh tokens.

No HTTP here: ``api`` turns these calls into the token, revoke and authorize endpoints. Expiry
is read from the sandbox clock, so advancing the clock expires codes (5 min) and access tokens
(``access_token_lifetime``, 12 h by default).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from freshforce.sandbox.core import SandboxClock
from freshforce.sandbox.freshbooks.errors import oauth_error

__all__ = ["DEFAULT_SCOPES", "OAuthApp", "OAuthState", "Session"]

DEFAULT_SCOPES = (
    "user:profile:read",
    "user:clients:read",
    "user:clients:write",
    "user:invoices:read",
    "user:invoices:write",
    "user:payments:read",
    "user:payments:write",
    "user:billable_items:read",
    "user:billable_items:write",
    "user:taxes:read",
    "user:taxes:write",
)
CODE_LIFETIME = 300
INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)
INVALID_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)


@dataclass(frozen=True)
class OAuthApp:
    """A registered OAuth application."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES


@dataclass(frozen=True)
class Session:
    """Who a valid access token speaks for."""

    identity_id: int
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class _Grant:
    identity_id: int
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float | None = None
    redirect_uri: str = ""


class OAuthState:
    """Apps, codes and tokens of one sandbox, with the rotation rules FreshBooks documents."""

    def __init__(self, clock: SandboxClock, rng: random.Random, lifetime: int = 43_200) -> None:
        self.access_token_lifetime = lifetime
        self._clock = clock
        self._rng = rng
        self.apps: dict[str, OAuthApp] = {}
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        self._used_refresh: set[str] = set()

    def register(self, app: OAuthApp) -> None:
        self.apps[app.client_id] = app

    def authorize(self, client_id: str, redirect_uri: str, identity_id: int, scope: str) -> str:
        """Issue an authorization code after consent; raise for an unknown client or scope."""
        app = self._app(client_id)
        scopes = self._scopes(app, scope)
        code = self._token("code")
        expires = self._clock.timestamp() + CODE_LIFETIME
        self._codes[code] = _Grant(identity_id, client_id, scopes, expires, redirect_uri)
        return code

    def exchange_code(
        self, client_id: str, client_secret: str, redirect_uri: str, code: str
    ) -> dict[str, Any]:
        """Trade a code for tokens (the ``authorization_code`` grant); codes are single-use."""
        self._client(client_id, client_secret)
        grant = self._codes.pop(code, None)
        if (
            grant is None
            or grant.client_id != client_id
            or grant.redirect_uri != redirect_uri
            or (grant.expires_at or 0) < self._clock.timestamp()
        ):
            raise oauth_error(400, "invalid_grant", INVALID_GRANT)
        return self.issue(grant.identity_id, client_id, grant.scopes)

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> dict[str, Any]:
        """Rotate: the old refresh token stops working, a new pair is returned."""
        self._client(client_id, client_secret)
        grant = self._refresh.pop(refresh_token, None)
        if grant is None or grant.client_id != client_id:
            raise oauth_error(400, "invalid_grant", INVALID_GRANT)
        self._used_refresh.add(refresh_token)
        return self.issue(grant.identity_id, client_id, grant.scopes)

    def revoke(self, client_id: str, client_secret: str, token: str) -> None:
        """Forget an access or refresh token (unknown tokens are ignored, as RFC 7009 says)."""
        self._client(client_id, client_secret)
        self._access.pop(token, None)
        self._refresh.pop(token, None)

    def issue(
        self,
        identity_id: int,
        client_id: str,
        scopes: tuple[str, ...],
        expires_in: int | None = None,
    ) -> dict[str, Any]:
        """Create a token pair and return the token endpoint's JSON answer."""
        lifetime = expires_in or self.access_token_lifetime
        now = self._clock.timestamp()
        access, refresh = self._token("at"), self._token("rt")
        self._access[access] = _Grant(identity_id, client_id, scopes, now + lifetime)
        self._refresh[refresh] = _Grant(identity_id, client_id, scopes)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
            "created_at": int(now),
        }

    def authenticate(self, access_token: str) -> Session | bool | None:
        """Return the session for a live token, ``False`` if it expired, ``None`` if unknown."""
        grant = self._access.get(access_token)
        if grant is None:
            return None
        if (grant.expires_at or 0) <= self._clock.timestamp():
            return False
        return Session(grant.identity_id, grant.client_id, grant.scopes)

    def peek(self, access_token: str) -> Session | None:
        """Return who a token was issued to, expired or not, or None for an unknown token."""
        grant = self._access.get(access_token)
        if grant is None:
            return None
        return Session(grant.identity_id, grant.client_id, grant.scopes)

    def issued(self, token: str) -> bool:
        """Tell whether this sandbox issued ``token``: a code, an access or refresh token.

        A sandbox serving several accounts hands each request to the account that issued its token.
        """
        return any(
            token in issued
            for issued in (self._access, self._refresh, self._codes, self._used_refresh)
        )

    def snapshot(self) -> dict[str, Any]:
        return {
            "apps": [asdict(app) for app in self.apps.values()],
            "access_token_lifetime": self.access_token_lifetime,
            "codes": {k: asdict(v) for k, v in self._codes.items()},
            "access": {k: asdict(v) for k, v in self._access.items()},
            "refresh": {k: asdict(v) for k, v in self._refresh.items()},
            "used_refresh": sorted(self._used_refresh),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.apps = {
            a["client_id"]: OAuthApp(a["client_id"], a["client_secret"], tuple(a["scopes"]))
            for a in data["apps"]
        }
        self.access_token_lifetime = data["access_token_lifetime"]
        self._codes = {k: _grant(v) for k, v in data["codes"].items()}
        self._access = {k: _grant(v) for k, v in data["access"].items()}
        self._refresh = {k: _grant(v) for k, v in data["refresh"].items()}
        self._used_refresh = set(data["used_refresh"])

    def clear_tokens(self) -> None:
        self._codes.clear()
        self._access.clear()
        self._refresh.clear()
        self._used_refresh.clear()

    def _app(self, client_id: str) -> OAuthApp:
        app = self.apps.get(client_id)
        if app is None:
            raise oauth_error(401, "invalid_client", INVALID_CLIENT)
        return app

    def _client(self, client_id: str, client_secret: str) -> OAuthApp:
        app = self._app(client_id)
        if app.client_secret != client_secret:
            raise oauth_error(401, "invalid_client", INVALID_CLIENT)
        return app

    @staticmethod
    def _scopes(app: OAuthApp, scope: str) -> tuple[str, ...]:
        if not scope.strip():
            return app.scopes
        asked = tuple(scope.split())
        if any(s not in app.scopes for s in asked):
            raise oauth_error(
                400, "invalid_scope", "The requested scope is invalid, unknown, or malformed."
            )
        return asked

    def _token(self, prefix: str) -> str:
        # A restored state restarts the seeded generator: skip any value already handed out,
        # so a used refresh token can never come back to life.
        while True:
            token = f"{prefix}_{self._rng.getrandbits(160):040x}"
            taken = (self._codes, self._access, self._refresh, self._used_refresh)
            if not any(token in known for known in taken):
                return token


def _grant(data: dict[str, Any]) -> _Grant:
    return _Grant(
        identity_id=data["identity_id"],
        client_id=data["client_id"],
        scopes=tuple(data["scopes"]),
        expires_at=data["expires_at"],
        redirect_uri=data["redirect_uri"],
    )
