"""The users of one sandbox account or org, as the control plane sees them: the vendor's hooks.

A vendor that holds several users implements ``UserDirectory`` and hands it to ``install``. The
admin API then serves ``GET|POST /_sandbox/users``, mints tokens for any user (and any OAuth
client label), resolves ``user`` in fault rules and request-log filters from an id, a name, an
e-mail or a username, and names the user on every request-log entry.

``identify(token)`` answers who a bearer token speaks for *before* the request is handled, so a
fault rule aimed at one user or OAuth client fires only for that caller. It must not change
anything (no expiry bookkeeping): a request it identifies may still be refused later.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CLIENT_STATE_KEY",
    "USER_STATE_KEY",
    "Caller",
    "SandboxUser",
    "UserDirectory",
    "caller_of_scope",
    "split_name",
]

# Scope state entries naming the caller for the request log (``attribute_request`` sets them).
USER_STATE_KEY = "sandbox_user"
CLIENT_STATE_KEY = "sandbox_client"

_BEARER_SCHEMES = frozenset({"bearer", "oauth"})
Scope = MutableMapping[str, Any]  # an ASGI scope: a dict of anything


@dataclass(frozen=True)
class SandboxUser:
    """One user as the admin API lists it; ``id`` is what the request log and records name."""

    id: str
    name: str
    email: str
    role: str
    username: str = ""


@dataclass(frozen=True)
class Caller:
    """Who a request speaks for: the user id and the OAuth client id of its token."""

    user: str
    client: str


class UserDirectory(Protocol):
    """What a vendor's state offers for several users; every method runs on the server's loop.

    - ``add_user(name, email, role)``: create a user in the default account/org; ``role`` None
      means the vendor's default; raise ``ValueError`` naming the field for a clash or bad value.
    - ``list_users()``: every user, the default one first.
    - ``find_user(user)``: by id, name, e-mail or username; raise ``LookupError`` if none.
    - ``identify(token)``: the ``Caller`` behind an access token, or None; no side effects.
    - ``mint_for(user, client, expires_in)``: a token response for ``user`` (None: the default
      user) labelled with OAuth ``client`` (None: the vendor's default); ``LookupError`` for an
      unknown user.
    """

    def add_user(self, name: str, email: str, role: str | None) -> SandboxUser: ...

    def list_users(self) -> list[SandboxUser]: ...

    def find_user(self, user: str) -> SandboxUser: ...

    def identify(self, token: str) -> Caller | None: ...

    def mint_for(
        self, user: str | None, client: str | None, expires_in: int | None
    ) -> dict[str, Any]: ...  # the vendor's token response, JSON


def split_name(name: str) -> tuple[str, str]:
    """Split a display name into (first, last); a single word is the last name."""
    first, _, last = name.strip().partition(" ")
    if not last.strip():
        return "", first
    return first, last.strip()


def caller_of_scope(directory: UserDirectory) -> Callable[[Scope], Caller | None]:
    """Return a function naming the caller of an ASGI scope from its ``Authorization`` header."""

    def identify(scope: Scope) -> Caller | None:
        for raw_name, raw_value in scope.get("headers", []):
            if raw_name.lower() == b"authorization":
                scheme, _, token = raw_value.decode("latin-1").partition(" ")
                if scheme.lower() in _BEARER_SCHEMES and token.strip():
                    return directory.identify(token.strip())
                return None
        return None

    return identify
