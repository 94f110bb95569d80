"""The FreshBooks sandbox's whole state: identity, OAuth, accounting records and callbacks.

``FreshBooksState`` is what the routes act on and what the admin API's ``SandboxControl`` hooks
(reset, seed, snapshot, mint_token) reach. It has no HTTP in it; it can be saved to and loaded
from a JSON file so a ``--state-file`` sandbox survives a restart.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from freshforce.sandbox.core import SandboxClock
from freshforce.sandbox.freshbooks.accounting import Accounting
from freshforce.sandbox.freshbooks.oauth import OAuthApp, OAuthState
from freshforce.sandbox.freshbooks.seed import seed_records
from freshforce.sandbox.freshbooks.webhooks import Callbacks

__all__ = ["DEFAULT_APP", "DEFAULT_IDENTITY", "FreshBooksState", "Identity"]

STATE_VERSION = 1


@dataclass(frozen=True)
class Identity:
    """A FreshBooks user and the one business (account) they belong to.

    ``role`` is the business membership role (``owner`` for the one who owns it); ``userid`` is
    the user's id inside the account, what invoices' ``ownerid``/``sentid`` name (1 for the owner).
    """

    id: int
    first_name: str
    last_name: str
    email: str
    business_id: int
    business_uuid: str
    business_name: str
    account_id: str
    role: str = "owner"
    userid: int = 1

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


DEFAULT_IDENTITY = Identity(
    id=1001,
    first_name="Sam",
    last_name="Sandbox",
    email="owner@sandbox.freshforce.test",
    business_id=77001,
    business_uuid="2f1b4a53-7c2e-4f40-9c47-5a1d5e0b7a01",
    business_name="Sandbox Trading Co.",
    account_id="SBX7QK",
)
DEFAULT_APP = OAuthApp(
    client_id="freshforce-sandbox",
    client_secret="sandbox-secret",  # noqa: S106 - the published sandbox credentials
)


class FreshBooksState:
    """Everything the FreshBooks sandbox knows, deterministic for a given seed."""

    def __init__(
        self,
        clock: SandboxClock,
        seed: int = 42,
        token_lifetime: int = 43_200,
        owner: Identity = DEFAULT_IDENTITY,
    ) -> None:
        self.clock = clock
        self.owner = owner
        self.rng = random.Random(seed)  # noqa: S311 - simulated ids and tokens, not security
        self.oauth = OAuthState(clock, self.rng, token_lifetime)
        self.oauth.register(DEFAULT_APP)
        self.identities = {owner.id: owner}
        self.accounting = Accounting(clock)
        self.callbacks = Callbacks(clock, self.rng)

    # -- lookups -------------------------------------------------------------------------------

    def identity(self, identity_id: int) -> Identity:
        return self.identities[identity_id]

    def find_identity(self, user: str | None) -> Identity:
        """Find an identity by id, email or name (the owner for None); raise LookupError."""
        if user is None:
            return self.owner
        for identity in self.identities.values():
            if user == str(identity.id) or user.lower() in (
                identity.email.lower(),
                identity.name.lower(),
            ):
                return identity
        raise LookupError(f"no FreshBooks identity with id, email or name {user!r}")

    def account_owner(self, account_id: str) -> Identity:
        members = [i for i in self.identities.values() if i.account_id == account_id]
        return next((i for i in members if i.role == "owner"), members[0])

    def ids_of(self, account_id: str) -> tuple[int, int]:
        """Return (business id, identity id) of an account, for webhook payloads."""
        owner = self.account_owner(account_id)
        return owner.business_id, owner.id

    # -- SandboxControl ------------------------------------------------------------------------

    def reset(self) -> None:
        self.identities = {i.id: i for i in self.identities.values() if i.role == "owner"}
        self.accounting.clear()
        self.callbacks.clear()
        self.oauth.clear_tokens()

    def seed(self, records: int, seed: int) -> dict[str, int]:
        return seed_records(self, records, seed)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "identities": [asdict(i) for i in self.identities.values()],
            "oauth": self.oauth.snapshot(),
            "accounting": self.accounting.snapshot(),
            "callbacks": self.callbacks.snapshot(),
        }

    def mint_token(self, user: str | None, expires_in: int | None) -> dict[str, Any]:
        identity = self.find_identity(user)
        return self.oauth.issue(identity.id, DEFAULT_APP.client_id, DEFAULT_APP.scopes, expires_in)

    # -- persistence ---------------------------------------------------------------------------

    def restore(self, data: dict[str, Any]) -> None:
        """Replace everything with a snapshot taken earlier."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"state version {data.get('version')!r} is not {STATE_VERSION}")
        self.identities = {i["id"]: Identity(**i) for i in data["identities"]}
        self.oauth.restore(data["oauth"])
        self.accounting.restore(data["accounting"])
        self.callbacks.restore(data["callbacks"])

    def save(self, path: Path) -> None:
        """Write the snapshot atomically (write a sibling file, then rename over)."""
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        temporary.replace(path)

    def load(self, path: Path) -> bool:
        """Restore from ``path`` if it exists; raise ValueError naming the file if unreadable."""
        if not path.exists():
            return False
        try:
            self.restore(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a FreshBooks sandbox state file ({exc})") from exc
        return True
