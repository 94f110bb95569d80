"""The FreshBooks client: identity, accounting records (list, page, incremental, write), callbacks.

Built on ``ApiClient`` (retries, error mapping, counting). Rules it carries from the reference:

- lists ask for ``per_page=100`` (the API's cap): one call per 100 records;
- invoices are listed with ``include[]=lines``;
- incremental listing filters ``search[updated_min]`` by US/Eastern *day* (the API's
  granularity), sorts by ``updated``, and drops records older than ``since`` client-side;
- a write never mixes ``vis_state`` with other fields (FreshBooks would drop the others silently);
- invoices and taxes are deleted with HTTP DELETE, the rest by ``vis_state = 1``;
- a 200 carrying ``response.errors`` is an error (the mapper sees it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import httpx

from freshforce.connectors.core import ApiClient
from freshforce.connectors.freshbooks.models import (
    Identity,
    Money,
    Record,
    parse_record,
)
from freshforce.connectors.freshbooks.wiretime import eastern_day
from freshforce.errors import AuthError, PermanentError

__all__ = ["RESOURCES", "Callback", "FreshBooksClient", "Page", "Resource"]

PER_PAGE = 100
# ``search[...]`` filters: a text (equals, like, min/max) or texts for an "in" filter.
Search = Mapping[str, str | Sequence[str]]
VisState = Literal[0, 1, 2]  # active, deleted, archived


@dataclass(frozen=True)
class Resource:
    """One accounting resource: its path under the account, its JSON keys, how it is deleted."""

    name: str
    path: str
    singular: str
    plural: str
    delete_by_http: bool = False
    includes: tuple[str, ...] = ()


RESOURCES: Mapping[str, Resource] = {
    r.name: r
    for r in (
        Resource("clients", "users/clients", "client", "clients"),
        Resource(
            "invoices", "invoices/invoices", "invoice", "invoices", delete_by_http=True,
            includes=("lines",),
        ),
        Resource("payments", "payments/payments", "payment", "payments"),
        Resource("items", "items/items", "item", "items"),
        Resource("taxes", "taxes/taxes", "tax", "taxes", delete_by_http=True),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Page:
    """One page of a list answer."""

    records: tuple[Record, ...]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Callback:
    """A webhook subscription."""

    id: int
    event: str
    uri: str
    verified: bool


class FreshBooksClient:
    """Talks to one FreshBooks account through an ``ApiClient``."""

    def __init__(self, api: ApiClient, account_id: str) -> None:
        self.api = api
        self.account_id = account_id

    # -- identity ------------------------------------------------------------------------------

    async def identity(self) -> Identity:
        """Return who the token speaks for, with the account id and business id to use."""
        body = (await self.api.request("GET", "/auth/api/v1/users/me")).json()
        return identity_from(body)

    # -- reading -------------------------------------------------------------------------------

    async def get(self, resource: Resource, record_id: int) -> Record:
        """Return one record (with its includes)."""
        params = httpx.QueryParams([("include[]", i) for i in resource.includes])
        response = await self.api.request("GET", self._url(resource, record_id), params=params)
        return parse_record(resource.singular, _result(response)[resource.singular])

    async def list_page(
        self,
        resource: Resource,
        page: int = 1,
        *,
        search: Search | None = None,
        sort: str | None = None,
        per_page: int = PER_PAGE,
    ) -> Page:
        """Return one page of ``resource``, filtered by ``search[...]``.

        A text value is an equals or like filter (``search[email]=x``); a sequence of texts is
        an "in" filter sent once per value (``search[logids][]=1&search[logids][]=2``).
        """
        pairs: list[tuple[str, str | int | float | bool | None]] = [
            ("page", page),
            ("per_page", per_page),
        ]
        pairs += _search_pairs(search or {})
        pairs += [("include[]", i) for i in resource.includes]
        if sort:
            pairs.append(("sort", sort))
        response = await self.api.request(
            "GET", self._url(resource), params=httpx.QueryParams(pairs)
        )
        result = _result(response)
        records = tuple(parse_record(resource.singular, r) for r in result[resource.plural])
        return Page(records, int(result["page"]), int(result["pages"]), int(result["total"]))

    async def list_all(
        self,
        resource: Resource,
        *,
        search: Search | None = None,
        sort: str | None = None,
    ) -> AsyncIterator[Page]:
        """Yield every page, 100 records a call, until the last page."""
        page = 1
        while True:
            found = await self.list_page(resource, page, search=search, sort=sort)
            yield found
            if page >= found.pages or not found.records:
                return
            page += 1

    async def changed_since(
        self, resource: Resource, since: datetime, *, overlap: timedelta = timedelta(0)
    ) -> AsyncIterator[Page]:
        """Yield pages of records updated at or after ``since - overlap``, oldest first.

        The API filters by Eastern day, so the request asks from the day of ``since - overlap``
        and the pages are trimmed to the exact instant here.
        """
        floor = since - overlap
        search = {"updated_min": eastern_day(floor).isoformat()}
        async for page in self.list_all(resource, search=search, sort="updated_asc"):
            kept = tuple(r for r in page.records if r.updated is None or r.updated >= floor)
            yield Page(kept, page.page, page.pages, page.total)

    # -- writing -------------------------------------------------------------------------------

    async def create(self, resource: Resource, fields: Mapping[str, Any]) -> Record:
        """Create a record from its wire fields (``Money``/``Decimal`` values allowed)."""
        body = {resource.singular: _wire_fields(fields, allow_vis_state=False)}
        response = await self.api.request(
            "POST", self._url(resource), json=body, params=self._includes(resource)
        )
        return parse_record(resource.singular, _result(response)[resource.singular])

    async def update(self, resource: Resource, record_id: int, fields: Mapping[str, Any]) -> Record:
        """Change fields of a record; ``vis_state`` is refused here (see ``set_vis_state``)."""
        body = {resource.singular: _wire_fields(fields, allow_vis_state=False)}
        response = await self.api.request(
            "PUT", self._url(resource, record_id), json=body, params=self._includes(resource)
        )
        return parse_record(resource.singular, _result(response)[resource.singular])

    async def set_vis_state(self, resource: Resource, record_id: int, state: VisState) -> Record:
        """Activate (0), delete (1) or archive (2) a record, in a PUT of its own."""
        body = {resource.singular: {"vis_state": state}}
        response = await self.api.request("PUT", self._url(resource, record_id), json=body)
        return parse_record(resource.singular, _result(response)[resource.singular])

    async def delete(self, resource: Resource, record_id: int) -> None:
        """Delete a record the way the API deletes that kind."""
        if resource.delete_by_http:
            await self.api.request("DELETE", self._url(resource, record_id))
        else:
            await self.set_vis_state(resource, record_id, 1)

    # -- callbacks -----------------------------------------------------------------------------

    async def register_callback(self, event: str, uri: str) -> Callback:
        """Subscribe ``uri`` to ``event``; FreshBooks then POSTs a verifier to it."""
        body = {"callback": {"event": event, "uri": uri}}
        response = await self.api.request("POST", self._callbacks(), json=body)
        return _callback(_result(response)["callback"])

    async def verify_callback(self, callback_id: int, verifier: str) -> Callback:
        """Confirm a callback with the verifier the webhook intake received."""
        body = {"callback": {"verifier": verifier}}
        response = await self.api.request("PUT", self._callbacks(callback_id), json=body)
        return _callback(_result(response)["callback"])

    async def resend_verification(self, callback_id: int) -> Callback:
        """Ask FreshBooks to post the verifier of an unverified callback again."""
        body = {"callback": {"resend": True}}
        response = await self.api.request("PUT", self._callbacks(callback_id), json=body)
        return _callback(_result(response)["callback"])

    async def list_callbacks(self) -> list[Callback]:
        """Return every callback of the account."""
        found: list[Callback] = []
        page = 1
        while True:
            params = httpx.QueryParams({"page": page, "per_page": PER_PAGE})
            result = _result(await self.api.request("GET", self._callbacks(), params=params))
            found += [_callback(c) for c in result["callbacks"]]
            if page >= int(result["pages"]) or not result["callbacks"]:
                return found
            page += 1

    async def delete_callback(self, callback_id: int) -> None:
        """Unsubscribe a callback."""
        await self.api.request("DELETE", self._callbacks(callback_id))

    # -- paths ---------------------------------------------------------------------------------

    def _url(self, resource: Resource, record_id: int | None = None) -> str:
        base = f"/accounting/account/{self.account_id}/{resource.path}"
        return base if record_id is None else f"{base}/{record_id}"

    def _callbacks(self, callback_id: int | None = None) -> str:
        base = f"/events/account/{self.account_id}/events/callbacks"
        return base if callback_id is None else f"{base}/{callback_id}"

    @staticmethod
    def _includes(resource: Resource) -> httpx.QueryParams:
        return httpx.QueryParams([("include[]", i) for i in resource.includes])


def identity_from(body: Any) -> Identity:  # noqa: ANN401 - the /users/me JSON, at the wire
    """Read the identity and its first business with an accounting account."""
    me = body.get("response") if isinstance(body, dict) else None
    if not isinstance(me, dict):
        msg = "FreshBooks /users/me answered without a 'response' object"
        raise PermanentError(msg, system="freshbooks")
    roles = {str(r.get("accountid")) for r in me.get("roles", []) if r.get("accountid")}
    for membership in me.get("business_memberships", []):
        business = membership.get("business") or {}
        account = business.get("account_id") or next(iter(sorted(roles)), None)
        if account and business.get("id") is not None:
            return Identity(
                identity_id=int(me.get("identity_id") or me["id"]),
                email=me.get("email"),
                account_id=str(account),
                business_id=int(business["id"]),
                business_uuid=business.get("business_uuid"),
            )
    msg = "this FreshBooks identity has no business with an accounting account"
    raise AuthError(msg, system="freshbooks")


def _result(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    try:
        result = body["response"]["result"]
    except (KeyError, TypeError) as exc:
        msg = f"FreshBooks answered {response.status_code} without response.result"
        raise PermanentError(msg, system="freshbooks", http_status=response.status_code) from exc
    return dict(result)


def _search_pairs(search: Search) -> list[tuple[str, str | int | float | bool | None]]:
    pairs: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in search.items():
        if isinstance(value, str):
            pairs.append((f"search[{name}]", value))
        else:
            pairs += [(f"search[{name}][]", v) for v in value]
    return pairs


def _wire_fields(fields: Mapping[str, Any], *, allow_vis_state: bool) -> dict[str, Any]:
    if not allow_vis_state and "vis_state" in fields:
        msg = (
            "vis_state cannot be written together with other fields (FreshBooks drops the "
            "others); use set_vis_state"
        )
        raise ValueError(msg)
    return {k: _wire_value(v) for k, v in fields.items()}


def _wire_value(value: Any) -> Any:  # noqa: ANN401 - JSON values, at the wire
    if isinstance(value, Money):
        return value.wire()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_wire_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire_value(v) for k, v in value.items()}
    return value


def _callback(raw: Mapping[str, Any]) -> Callback:
    return Callback(
        id=int(raw.get("callbackid") or raw["id"]),
        event=str(raw["event"]),
        uri=str(raw["uri"]),
        verified=bool(raw.get("verified")),
    )
