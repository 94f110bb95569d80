"""The accounting resources the sandbox serves, as data: paths, keys, ids and allowed filters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESOURCES", "Resource", "by_plural"]


@dataclass(frozen=True)
class Resource:
    """One accounting resource: where it lives and how it may be searched (reference §3)."""

    plural: str
    singular: str
    id_field: str
    path: str
    scope: str
    http_delete: bool
    equals: frozenset[str]
    likes: tuple[tuple[str, str], ...]  # filter name -> field
    ranges: tuple[tuple[str, str], ...]  # base name (``<base>_min``) -> field
    ins: tuple[tuple[str, str], ...]  # plural filter name -> field

    @property
    def event(self) -> str:
        """Name the webhook event object (``client``, ``invoice``, ...)."""
        return self.singular


RESOURCES = (
    Resource(
        plural="clients",
        singular="client",
        id_field="userid",
        path="users/clients",
        scope="clients",
        http_delete=False,
        equals=frozenset({"email", "userid", "username", "vis_state", "currency_code"}),
        likes=(
            ("address_like", "p_street"),
            ("fname_like", "fname"),
            ("lname_like", "lname"),
            ("organization_like", "organization"),
            ("note_like", "note"),
            ("phone_like", "bus_phone"),
            ("user_like", "username"),
            ("email_like", "email"),
        ),
        ranges=(("updated", "updated"),),
        ins=(("userids", "userid"),),
    ),
    Resource(
        plural="invoices",
        singular="invoice",
        id_field="invoiceid",
        path="invoices/invoices",
        scope="invoices",
        http_delete=True,
        equals=frozenset(
            {"customerid", "invoiceid", "invoice_number", "v3_status", "vis_state", "status"}
        ),
        likes=(("invoice_number_like", "invoice_number"), ("po_number_like", "po_number")),
        ranges=(("updated", "updated"), ("date", "create_date"), ("due_date", "due_date")),
        ins=(("customerids", "customerid"), ("invoiceids", "invoiceid")),
    ),
    Resource(
        plural="payments",
        singular="payment",
        id_field="logid",
        path="payments/payments",
        scope="payments",
        http_delete=False,
        equals=frozenset(
            {"logid", "type", "customerid", "clientid", "invoiceid", "from_credit", "vis_state"}
        ),
        likes=(("notes", "note"),),
        ranges=(("updated", "updated"), ("date", "date"), ("amount", "amount")),
        ins=(("logids", "logid"), ("customerids", "clientid"), ("clientids", "clientid")),
    ),
    Resource(
        plural="items",
        singular="item",
        id_field="itemid",
        path="items/items",
        scope="billable_items",
        http_delete=False,
        equals=frozenset({"itemid", "name", "sku", "vis_state"}),
        likes=(("name_like", "name"), ("description_like", "description")),
        ranges=(("updated", "updated"),),
        ins=(("itemids", "itemid"),),
    ),
    Resource(
        plural="taxes",
        singular="tax",
        id_field="taxid",
        path="taxes/taxes",
        scope="taxes",
        http_delete=True,
        equals=frozenset({"taxid", "name", "number", "vis_state"}),
        likes=(("name_like", "name"),),
        ranges=(("updated", "updated"),),
        ins=(("taxids", "taxid"),),
    ),
)


def by_plural(plural: str) -> Resource:
    """Return the resource whose list key is ``plural``."""
    return next(r for r in RESOURCES if r.plural == plural)
