"""The Salesforce sandbox's user directory: the org's ``User`` records, for the control plane.

``SalesforceUsers`` implements ``sandbox.core.UserDirectory``. A user added through
``POST /_sandbox/users`` is a ``User`` record (``Username`` = e-mail, ``Title`` = role) made by
the admin without a change event, as Setup would; users created through REST count too. Tokens
minted for a user make REST writes whose ``CreatedById``/``LastModifiedById`` and CDC
``commitUser`` name that user (the write context carries the session's user).
"""

from __future__ import annotations

from typing import Any

from freshforce.sandbox.core import Caller, SandboxUser, split_name
from freshforce.sandbox.salesforce.errors import SalesforceError
from freshforce.sandbox.salesforce.ids import is_valid_id, normalise_id
from freshforce.sandbox.salesforce.records import Record
from freshforce.sandbox.salesforce.sessions import Sessions
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

__all__ = ["ADMIN_ROLE", "DEFAULT_CLIENT", "DEFAULT_ROLE", "SalesforceUsers"]

ADMIN_ROLE = "System Administrator"
DEFAULT_ROLE = "Standard User"
DEFAULT_CLIENT = "sandbox"  # the OAuth client label of tokens minted without one


class SalesforceUsers:
    """The org's users and who a token speaks for."""

    def __init__(self, state: SalesforceState, sessions: Sessions) -> None:
        self._state = state
        self._sessions = sessions

    def add_user(self, name: str, email: str, role: str | None) -> SandboxUser:
        for known in self._state.records("User"):
            if str(known["Username"]).lower() == email.lower():
                raise ValueError(f"email: username {email!r} is already user {known['Id']}")
            if str(known["Name"]).lower() == name.lower():
                raise ValueError(f"name: {name!r} is already user {known['Id']}")
        first, last = split_name(name)
        fields = {
            "Username": email,
            "FirstName": first or None,
            "LastName": last,
            "Email": email,
            "Alias": (first[:1] + last).replace(" ", "").lower()[:8],
            "Title": role or DEFAULT_ROLE,
        }
        ctx = WriteContext(user_id=self._state.admin_user_id)
        try:
            with self._state.transaction(ctx, emit=False) as tx:
                user_id = tx.create("User", fields)
        except SalesforceError as exc:
            raise ValueError(f"user: {exc}") from exc
        return self._user(self._state.read("User", user_id))

    def list_users(self) -> list[SandboxUser]:
        return [self._user(record) for record in self._state.records("User")]

    def find_user(self, user: str) -> SandboxUser:
        if is_valid_id(user):
            record = self._state.get_record(user)
            if record is not None and str(record["Id"]).startswith("005"):
                return self._user(record)
        wanted = user.lower()
        for record in self._state.records("User"):
            names = (record["Username"], record["Email"], record["Name"])
            if wanted in (str(n).lower() for n in names if n):
                return self._user(record)
        raise LookupError(f"no sandbox user with id, username, e-mail or name {user!r}")

    def identify(self, token: str) -> Caller | None:
        session = self._sessions.peek(token)
        if session is None:
            return None
        return Caller(user=session.user_id, client=session.client_id)

    def mint_for(
        self, user: str | None, client: str | None, expires_in: int | None
    ) -> dict[str, Any]:  # the token response, JSON
        user_id = self._state.admin_user_id if user is None else self.find_user(user).id
        session = self._sessions.mint(
            user_id, client_id=client or DEFAULT_CLIENT, expires_in=expires_in
        )
        return {
            "access_token": session.access_token,
            "token_type": "Bearer",
            "issued_at": str(int(session.issued_at.timestamp() * 1000)),
            "id": f"/id/{self._state.org_id}/{user_id}",
            "organization_id": self._state.org_id,
            "user_id": user_id,
        }

    def _user(self, record: Record) -> SandboxUser:
        user_id = normalise_id(str(record["Id"]))
        admin = user_id == self._state.admin_user_id
        return SandboxUser(
            id=user_id,
            name=str(record["Name"] or ""),
            email=str(record["Email"] or ""),
            role=str(record.get("Title") or (ADMIN_ROLE if admin else DEFAULT_ROLE)),
            username=str(record["Username"]),
        )
