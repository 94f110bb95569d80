"""Sandboxes hosting several FreshBooks accounts and Salesforce orgs at once.

``freshforce sandbox --accounts N`` (and ``bench/tenants.py``) serve N FreshBooks accounts on one
FreshBooks host and N Salesforce orgs on one Salesforce host and one Pub/Sub port. Each account
and each org is a whole sandbox of its own (state, users, OAuth tokens, webhook callbacks, change
log, faults, request log), so no record can cross from one to another; a front in each server
hands every request to the one it belongs to:

FreshBooks (one host)
    ``/accounting/account/<account_id>/…`` and ``/events/account/<account_id>/…`` by the account
    id in the path; other API calls by the bearer token (the account that issued it); the token
    and revoke endpoints by the code or token in the body; ``/oauth/authorize`` by the ``user``
    (or ``login_hint``) who logs in, an id or email of one account's users (with several accounts
    and no user, a page asks which user logs in); ``/_sandbox/accounts/<n>/…`` is account ``n``'s
    admin API (``n`` its number from 0 or its account id), ``/_sandbox/accounts`` lists them.
Salesforce (one host)
    Org ``n`` is at instance URL ``<host>/orgs/<n>`` (org 0 also at the root, as with one org):
    its REST API, OAuth and ``/_sandbox`` admin API live under that path. Requests at the root go
    to the org of their bearer token (tokens start with the org id, as real ones do), of the
    code, refresh token or username in a token request, of the ``username`` in the login form or
    of ``login_hint`` (for ``--auto-approve``); the token answer's ``instance_url`` names that
    org's path. ``/_sandbox/orgs`` lists the orgs. Two admin calls read every org at once (for a
    bench watching many orgs): ``POST /_sandbox/orgs/find`` ``{"sobject", "field", "values":
    [[n, value], …]}`` answers ``{"found": [[n, value, Id, CreatedDate], …]}``, one row for each
    live record of org ``n`` whose field equals the value; ``GET /_sandbox/orgs/values?sobject=
    &field=`` answers ``{"orgs": [[the field of every live record of org 0], …]}``.
Pub/Sub (one gRPC port)
    Each call goes to the org named by its ``tenantid`` metadata (else by its access token).

Account/org 0 is exactly the one-account sandbox (account ``SBX7QK``, user
``admin@freshforce.sandbox``); account ``n`` has its own account id, business and owner
(``owner@account<n>.sandbox.freshforce.test``), org ``n`` its own org id and admin
(``admin@org<n>.freshforce.sandbox``).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from html import escape
from types import TracebackType
from typing import Any, Self, cast

import grpc
import httpx

from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc
from freshforce.sandbox.core import DeliveryRetryPolicy, SandboxRuntime
from freshforce.sandbox.core.faults import Message, Receive, Scope, Send
from freshforce.sandbox.freshbooks.app import FreshBooksOptions, FreshBooksSandbox, build_freshbooks
from freshforce.sandbox.freshbooks.state import DEFAULT_IDENTITY, Identity
from freshforce.sandbox.salesforce.build import (
    ADMIN_USERNAME,
    SalesforceSandbox,
    build_salesforce_sandbox,
)
from freshforce.sandbox.salesforce.errors import SalesforceError

__all__ = [
    "FreshBooksAccounts",
    "PubSubOrgs",
    "SalesforceOrgs",
    "SharedClient",
    "account_owner",
    "build_freshbooks_accounts",
    "build_salesforce_orgs",
    "org_username",
]

_ACCOUNT_IN_PATH = re.compile(r"^/(?:accounting|events)/account/([^/]+)/")
_ADMIN_ACCOUNT = re.compile(r"^/_sandbox/accounts/([^/]+)(/.*)?$")
_ORG_PATH = re.compile(r"^/orgs/(\d+)(/.*)?$")
_ID_PATH = re.compile(r"^/id/([0-9A-Za-z]{15,18})/")
_CODE_CHARS = 36


def account_owner(number: int) -> Identity:
    """Return the owner, business and account of FreshBooks account ``number`` (0: the default)."""
    if number == 0:
        return DEFAULT_IDENTITY
    account = "SB" + _base36(number).rjust(4, "0")
    return Identity(
        id=DEFAULT_IDENTITY.id + 1000 * number,
        first_name="Owner",
        last_name=f"Account{number}",
        email=f"owner@account{number}.sandbox.freshforce.test",
        business_id=DEFAULT_IDENTITY.business_id + 1000 * number,
        business_uuid=f"2f1b4a53-7c2e-4f40-9c47-{number:012d}",
        business_name=f"Sandbox Account {number} Ltd.",
        account_id=account,
    )


def org_username(number: int) -> str:
    """Return the admin username of Salesforce org ``number``; 0 is the default org's."""
    return ADMIN_USERNAME if number == 0 else f"admin@org{number}.freshforce.sandbox"


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    text = ""
    while True:
        number, rest = divmod(number, _CODE_CHARS)
        text = digits[rest] + text
        if number == 0:
            return text


class SharedClient(httpx.AsyncClient):
    """One HTTP client for every account's webhook deliveries (one pool, not one per account).

    Each account's delivery worker enters it as its own; entering again is allowed and leaving
    does not close it; ``aclose`` does.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        return None


def build_freshbooks_accounts(
    count: int, options: FreshBooksOptions, *, retry: DeliveryRetryPolicy | None = None
) -> FreshBooksAccounts:
    """Build ``count`` accounts from ``options`` (seeds ``options.seed + n``); one webhook pool."""
    shared = SharedClient(timeout=10.0, verify=False)
    return FreshBooksAccounts(
        [
            build_freshbooks(
                replace(options, seed=options.seed + n, owner=account_owner(n)),
                SandboxRuntime.create(options.seed + n, retry=retry, client_factory=lambda: shared),
            )
            for n in range(count)
        ],
        shared,
    )


def build_salesforce_orgs(
    count: int,
    *,
    seed: int = 42,
    records: int = 0,
    daily_api_limit: int = 15_000,
    multi_currency: bool = False,
) -> tuple[SalesforceOrgs, list[SandboxRuntime]]:
    """Build ``count`` orgs (seeds ``seed + n``) and their runtimes."""
    runtimes = [SandboxRuntime.create(seed=seed + n) for n in range(count)]
    orgs = [
        build_salesforce_sandbox(
            runtime,
            seed=seed + n,
            records=records,
            daily_api_limit=daily_api_limit,
            multi_currency=multi_currency,
            org_number=n + 1,
            username=org_username(n),
        )
        for n, runtime in enumerate(runtimes)
    ]
    return SalesforceOrgs(orgs), runtimes


# -- ASGI plumbing shared by both fronts ---------------------------------------------------------


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that gives ``body`` once, then whatever the client sends next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def _form(scope: Scope, body: bytes) -> dict[str, str]:
    """Read a form or JSON body (the OAuth endpoints accept both); anything else is empty."""
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    if "json" in headers.get("content-type", ""):
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
    return {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode(errors="replace")
    return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}


def _bearer(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == b"authorization":
            return str(value.decode(errors="replace").removeprefix("Bearer ").strip())
    return ""


async def _json(send: Send, status: int, body: object) -> None:
    await _respond(send, status, json.dumps(body).encode(), b"application/json")


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, close: Callable[[], Awaitable[None]]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close()
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- FreshBooks ----------------------------------------------------------------------------------


@dataclass
class FreshBooksAccounts:
    """One FreshBooks host in front of several accounts' sandboxes (see the module doc)."""

    accounts: Sequence[FreshBooksSandbox]
    # The webhook client every account's deliveries share (closed with the accounts).
    client: httpx.AsyncClient | None = None

    def __post_init__(self) -> None:
        self._by_id = {sb.state.owner.account_id: sb for sb in self.accounts}
        self._by_token: dict[str, FreshBooksSandbox] = {}

    def account(self, key: str) -> FreshBooksSandbox | None:
        """Find an account by its number (from 0) or its account id."""
        if key.isdigit() and int(key) < len(self.accounts):
            return self.accounts[int(key)]
        return self._by_id.get(key)

    def by_user(self, user: str) -> FreshBooksSandbox | None:
        """Find the account whose users include ``user`` (an id, email or name)."""
        for sandbox in self.accounts:
            try:
                sandbox.state.find_identity(user)
            except LookupError:
                continue
            return sandbox
        return None

    def by_token(self, token: str) -> FreshBooksSandbox | None:
        """Find the account that issued ``token`` (remembered: a token never changes account)."""
        if not token:
            return None
        found = self._by_token.get(token)
        if found is None:
            found = next((sb for sb in self.accounts if sb.state.oauth.issued(token)), None)
            if found is not None:
                self._by_token[token] = found
        return found

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "number": n,
                "account_id": sb.state.owner.account_id,
                "business_id": sb.state.owner.business_id,
                "business_name": sb.state.owner.business_name,
                "owner": sb.state.owner.email,
                "admin": f"/_sandbox/accounts/{n}/snapshot",
            }
            for n, sb in enumerate(self.accounts)
        ]

    async def aclose(self) -> None:
        for sandbox in self.accounts:
            await sandbox.runtime.aclose()
        if self.client is not None:
            await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.aclose)
            return
        path: str = scope.get("path", "")
        if scope["type"] != "http":
            await self.accounts[0].app(scope, receive, send)
            return
        if path.rstrip("/") == "/_sandbox/accounts":
            await _json(send, 200, {"accounts": self.describe()})
            return
        admin = _ADMIN_ACCOUNT.match(path)
        if admin:
            await self._admin(admin.group(1), admin.group(2) or "/", scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST" and path in (
            "/auth/oauth/token",
            "/auth/oauth/revoke",
            "/oauth/authorize",
        ):
            body = await _read_body(receive)
            receive = _replay(body, receive)
        target = self._route(scope, path, body)
        if target is None:
            await _respond(send, 200, self._chooser(scope), b"text/html; charset=utf-8")
            return
        await target.app(scope, receive, send)

    def _route(self, scope: Scope, path: str, body: bytes) -> FreshBooksSandbox | None:
        """Pick the account of a request; None asks the person which user logs in."""
        first = self.accounts[0]
        in_path = _ACCOUNT_IN_PATH.match(path)
        if in_path:
            return self._by_id.get(in_path.group(1), first)
        if path.startswith("/oauth/authorize"):
            fields = _query(scope) | _form(scope, body)
            user = fields.get("user") or fields.get("login_hint")
            if user:
                return self.by_user(user) or first
            ask = (
                len(self.accounts) > 1
                and scope["method"] == "GET"
                and not first.options.auto_approve
            )
            return None if ask else first
        if path in ("/auth/oauth/token", "/auth/oauth/revoke"):
            fields = _form(scope, body)
            for name in ("code", "refresh_token", "token"):
                found = self.by_token(fields.get(name, ""))
                if found is not None:
                    return found
            return first
        return self.by_token(_bearer(scope)) or first

    async def _admin(self, key: str, rest: str, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.account(key)
        if target is None:
            await _json(send, 404, {"detail": f"no FreshBooks account {key!r} in this sandbox"})
            return
        query = _query(scope)
        raw = scope.get("query_string", b"")
        if "account" not in query:  # the admin UI routes name the account they act in
            extra = urllib.parse.urlencode({"account": target.state.owner.account_id}).encode()
            raw = raw + b"&" + extra if raw else extra
        inner = dict(scope, path="/_sandbox" + rest, raw_path=None, query_string=raw)
        await target.app(inner, receive, send)

    def _chooser(self, scope: Scope) -> bytes:
        params = _query(scope)
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">'
            for k, v in params.items()
        )
        options = "".join(
            f'<option value="{escape(sb.state.owner.email)}">'
            f"{escape(sb.state.owner.email)} ({escape(sb.state.owner.business_name)})</option>"
            for sb in self.accounts
        )
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in | FreshBooks sandbox</title></head>
<body><main><h1>FreshBooks sandbox: {len(self.accounts)} accounts</h1>
<form method="get" action="/oauth/authorize">{hidden}
<label>Log in as <select name="user">{options}</select></label>
<button type="submit">Continue</button>
</form></main></body></html>""".encode()


# -- Salesforce ----------------------------------------------------------------------------------


@dataclass
class SalesforceOrgs:
    """One Salesforce host in front of several orgs' sandboxes (see the module doc)."""

    orgs: Sequence[SalesforceSandbox]

    def __post_init__(self) -> None:
        self._by_org = {sb.state.org_id[:15]: n for n, sb in enumerate(self.orgs)}

    def path_of(self, number: int) -> str:
        """Return org ``number``'s instance path: ``/orgs/<n>``."""
        return f"/orgs/{number}"

    def org_of_token(self, token: str) -> int | None:
        return self._by_org.get(token.split("!", 1)[0][:15]) if "!" in token else None

    def org_of_user(self, username: str) -> int | None:
        return next((n for n, sb in enumerate(self.orgs) if sb.sessions.has_user(username)), None)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "number": n,
                "org_id": sb.state.org_id,
                "username": sb.username,
                "instance_path": self.path_of(n),
                "admin": f"{self.path_of(n)}/_sandbox/snapshot",
            }
            for n, sb in enumerate(self.orgs)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, _nothing)
            return
        if scope["type"] != "http":
            await self.orgs[0].app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path.rstrip("/") == "/_sandbox/orgs":
            await _json(send, 200, {"orgs": self.describe()})
            return
        if path in ("/_sandbox/orgs/find", "/_sandbox/orgs/values"):
            await self._read_orgs(path, scope, receive, send)
            return
        prefixed = _ORG_PATH.match(path)
        if prefixed:
            number = int(prefixed.group(1))
            if number >= len(self.orgs):
                await _json(send, 404, [{"errorCode": "NOT_FOUND", "message": f"no org {number}"}])
                return
            # The org sees its own paths (its middleware matches /services/…, /_sandbox/…);
            # ``root_path`` keeps its instance URL (request.base_url) at /orgs/<n>.
            scope = dict(scope, path=prefixed.group(2) or "/", raw_path=None)
        else:
            body = b""
            if scope["method"] == "POST" and path.startswith("/services/oauth2/"):
                body = await _read_body(receive)
                receive = _replay(body, receive)
            number = self._route(scope, path, body)
            if number == 0:
                await self.orgs[0].app(scope, receive, send)
                return
        root = scope.get("root_path", "") + self.path_of(number)
        await self.orgs[number].app(dict(scope, root_path=root), receive, send)

    async def _read_orgs(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer ``/_sandbox/orgs/find`` and ``/_sandbox/orgs/values`` (see the module doc)."""
        try:
            if path.endswith("/find"):
                if scope["method"] != "POST":
                    await _json(send, 405, {"detail": "POST a JSON body to /_sandbox/orgs/find"})
                    return
                body = json.loads(await _read_body(receive) or b"{}")
                found = self.find(str(body["sobject"]), str(body["field"]), body["values"])
                await _json(send, 200, {"found": found})
                return
            query = _query(scope)
            values = self.values(query["sobject"], query["field"])
            await _json(send, 200, {"orgs": values})
        except KeyError as exc:
            await _json(send, 422, {"detail": f"{path}: missing {exc.args[0]!r}"})
        except (ValueError, TypeError) as exc:
            await _json(send, 422, {"detail": f"{path}: {exc}"})
        except SalesforceError as exc:
            await _json(send, 422, {"detail": f"{path}: {exc}"})

    def find(self, sobject: str, field: str, values: Iterable[Sequence[Any]]) -> list[list[Any]]:
        """Return ``[n, value, Id, CreatedDate]`` of each live record in org n with the value."""
        found: list[list[Any]] = []
        for number, value in values:
            if not isinstance(number, int) or not 0 <= number < len(self.orgs):
                raise ValueError(f"no org {number!r} (orgs 0..{len(self.orgs) - 1})")
            state = self.orgs[number].state
            for record_id in state.find(sobject, field, value):
                created = state.read(sobject, record_id).get("CreatedDate")
                found.append([number, value, record_id, created])
        return found

    def values(self, sobject: str, field: str) -> list[list[Any]]:
        """Return the ``field`` of every live ``sobject`` record, org by org."""
        result = []
        for org in self.orgs:
            spec = org.state.describe(sobject)
            if spec.field(field) is None:
                raise ValueError(f"{sobject} has no field {field!r}")
            result.append([r.get(field) for r in org.state.records(sobject)])
        return result

    def _route(self, scope: Scope, path: str, body: bytes) -> int:
        """Pick the org of a request at the root (org 0 when nothing names another)."""
        if path.startswith("/services/oauth2/"):
            fields = _query(scope) | _form(scope, body)
            for name in ("refresh_token", "token"):
                found = self.org_of_token(fields.get(name, ""))
                if found is not None:
                    return found
            code = fields.get("code", "")
            if code:
                hit = (n for n, sb in enumerate(self.orgs) if sb.sessions.has_code(code))
                return next(hit, 0)
            user = fields.get("username") or fields.get("login_hint")
            if user:
                return self.org_of_user(user) or 0
        by_id = _ID_PATH.match(path)
        if by_id:
            return self._by_org.get(by_id.group(1)[:15], 0)
        return self.org_of_token(_bearer(scope)) or 0


async def _nothing() -> None:
    return None


# -- Pub/Sub -------------------------------------------------------------------------------------


class PubSubOrgs(pb_grpc.PubSubServicer):
    """One Pub/Sub server in front of several orgs' services: each call to its ``tenantid``'s."""

    def __init__(self, services: Sequence[pb_grpc.PubSubServicer], org_ids: Sequence[str]) -> None:
        self._services = list(services)
        self._by_org = {org[:15]: service for org, service in zip(org_ids, services, strict=True)}

    def _pick(self, context: grpc.aio.ServicerContext[Any, Any]) -> Any:  # noqa: ANN401 - a servicer
        metadata = cast("Iterable[tuple[str, str | bytes]]", context.invocation_metadata() or ())
        values = {k: v if isinstance(v, str) else v.decode() for k, v in metadata}
        for key in (values.get("tenantid", ""), values.get("accesstoken", "").split("!")[0]):
            if key[:15] in self._by_org:
                return self._by_org[key[:15]]
        return self._services[0]  # answers with its own authentication error

    async def GetTopic(self, request: Any, context: Any) -> Any:  # noqa: ANN401, N802 - the proto's
        return await self._pick(context).GetTopic(request, context)

    async def GetSchema(self, request: Any, context: Any) -> Any:  # noqa: ANN401, N802 - the proto's
        return await self._pick(context).GetSchema(request, context)

    async def Publish(self, request: Any, context: Any) -> Any:  # noqa: ANN401, N802 - the proto's
        return await self._pick(context).Publish(request, context)

    async def Subscribe(self, requests: Any, context: Any) -> AsyncIterator[Any]:  # noqa: ANN401, N802 - the proto's
        async for response in self._pick(context).Subscribe(requests, context):
            yield response

    async def PublishStream(self, requests: Any, context: Any) -> AsyncIterator[Any]:  # noqa: ANN401, N802 - the proto's
        async for response in self._pick(context).PublishStream(requests, context):
            yield response
