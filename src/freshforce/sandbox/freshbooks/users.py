"""The FreshBooks sandbox's user directory: several identities in the one sandbox business.

``FreshBooksUsers`` implements ``sandbox.core.UserDirectory`` over ``FreshBooksState``: a user
added through ``POST /_sandbox/users`` is a new identity (ids from 1002) that is a member of the
default business (account ``SBX7QK``) with its own ``userid`` inside the account (from 2; the
owner is 1), so its writes show in the request log, in invoices' ``ownerid``/``sentid`` and in
webhook ``identity_id`` as that person.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from freshforce.sandbox.core import Caller, SandboxUser, split_name
from freshforce.sandbox.freshbooks.accounting import Author
from freshforce.sandbox.freshbooks.oauth import DEFAULT_SCOPES
from freshforce.sandbox.freshbooks.state import (
    DEFAULT_APP,
    FreshBooksState,
    Identity,
)

__all__ = ["DEFAULT_ROLE", "FreshBooksUsers", "author_of"]

DEFAULT_ROLE = "business_employee"


def author_of(identity: Identity) -> Author:
    """Return the ``Author`` the accounting records name for ``identity``."""
    return Author(identity_id=identity.id, userid=identity.userid)


class FreshBooksUsers:
    """The identities of the sandbox business, for the shared control plane."""

    def __init__(self, state: FreshBooksState) -> None:
        self._state = state

    def add_user(self, name: str, email: str, role: str | None) -> SandboxUser:
        role = role or DEFAULT_ROLE
        if role == "owner":
            raise ValueError("role: the business has one owner already; pick another role")
        for known in self._state.identities.values():
            if known.email.lower() == email.lower():
                raise ValueError(f"email: {email!r} is already user {known.id}")
            if known.name.lower() == name.lower():
                raise ValueError(f"name: {name!r} is already user {known.id}")
        owner = self._state.account_owner(self._state.owner.account_id)
        first, last = split_name(name)
        identity = replace(
            owner,
            id=max(self._state.identities) + 1,
            first_name=first,
            last_name=last,
            email=email,
            role=role,
            userid=max(i.userid for i in self._state.identities.values()) + 1,
        )
        self._state.identities[identity.id] = identity
        return _user(identity)

    def list_users(self) -> list[SandboxUser]:
        return [_user(i) for i in sorted(self._state.identities.values(), key=lambda i: i.id)]

    def find_user(self, user: str) -> SandboxUser:
        return _user(self._state.find_identity(user))

    def identify(self, token: str) -> Caller | None:
        session = self._state.oauth.peek(token)
        if session is None:
            return None
        return Caller(user=str(session.identity_id), client=session.client_id)

    def mint_for(
        self, user: str | None, client: str | None, expires_in: int | None
    ) -> dict[str, Any]:  # the token endpoint's JSON answer
        identity = self._state.find_identity(user)
        client_id = client or DEFAULT_APP.client_id
        app = self._state.oauth.apps.get(client_id)
        scopes = app.scopes if app is not None else DEFAULT_SCOPES
        return self._state.oauth.issue(identity.id, client_id, scopes, expires_in)


def _user(identity: Identity) -> SandboxUser:
    return SandboxUser(
        id=str(identity.id),
        name=identity.name,
        email=identity.email,
        role=identity.role,
        username=identity.email,
    )
