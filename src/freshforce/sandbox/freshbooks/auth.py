"""Bearer authentication, account membership and scope checks for the FreshBooks routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from freshforce.sandbox.core import attribute_request
from freshforce.sandbox.freshbooks.errors import (
    ERRNO,
    FreshBooksApiError,
    accounting_error,
    events_error,
    family_of,
    unauthorized,
)
from freshforce.sandbox.freshbooks.state import FreshBooksState, Identity

__all__ = ["Caller", "authenticate", "require_account", "require_scope"]


@dataclass(frozen=True)
class Caller:
    """The identity and OAuth client behind a request, with its token's scopes."""

    identity: Identity
    client_id: str
    scopes: tuple[str, ...]


def authenticate(state: FreshBooksState, request: Request) -> Caller:
    """Resolve the bearer token or raise the family's 401; tag the request log with the caller."""
    path = request.scope["path"]
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(path, missing=True)
    session = state.oauth.authenticate(token.strip())
    if session is None:
        raise unauthorized(path)
    if session is False:
        raise unauthorized(path, expired=True)
    assert session is not True  # noqa: S101 - narrows the union for mypy
    identity = state.identity(session.identity_id)
    attribute_request(request, str(identity.id), session.client_id)
    return Caller(identity, session.client_id, session.scopes)


def require_account(caller: Caller, account_id: str, path: str) -> None:
    """Refuse an account the caller is not a member of."""
    if caller.identity.account_id == account_id:
        return
    if family_of(path) == "events":
        raise events_error(403, 403, "Permission denied.")
    raise accounting_error(
        403, ERRNO["access_denied"], "Permission denied.", field="account_id", value=account_id
    )


def require_scope(caller: Caller, scope: str) -> None:
    """Refuse a token without ``scope``, with FreshBooks' ``insufficient_scope`` 403."""
    if scope in caller.scopes:
        return
    provided = ", ".join(repr(s) for s in caller.scopes)
    message = (
        "insufficient_scope: The request requires higher privileges than provided by the "
        f"access token. Provided: [{provided}]. Required: ['{scope}']."
    )
    raise FreshBooksApiError(403, {"message": message})
