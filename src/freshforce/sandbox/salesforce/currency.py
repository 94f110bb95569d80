"""Multi-currency: an org setting that adds ``CurrencyIsoCode``, ``CurrencyType`` and dated rates.

Off by default, as in a real org: then ``CurrencyIsoCode`` does not exist at all, so REST and
SOQL answer INVALID_FIELD for it. ``enable_multi_currency`` turns it on by changing the catalog
(the catalog is the setting: ``is_multi_currency`` reads it back). Then:

- ``CurrencyIsoCode`` (a picklist of the org's currencies) is on Account, Contact, Opportunity,
  PricebookEntry, Order and custom objects, defaulting to the corporate currency; on
  OpportunityLineItem and OrderItem it is read-only and follows the parent, and the price book
  entry must be in the same currency (FIELD_INTEGRITY_EXCEPTION otherwise); an opportunity or
  order with products keeps its currency.
- ``CurrencyType`` lists the currencies (one corporate, rate 1); ``DatedConversionRate`` holds
  rates by date range: a new ``StartDate`` splits the range it falls in and ``NextStartDate`` is
  kept in step. A new currency starts with one rate for 0001-01-01 .. 9999-12-31, as Salesforce
  does with advanced currency management on.

``rules.derive`` / ``rules.after_write`` call ``derive`` / ``after_write`` here.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from freshforce.sandbox.salesforce.errors import (
    ErrorItem,
    SalesforceError,
    duplicate_value,
    field_integrity,
)
from freshforce.sandbox.salesforce.ids import KEY_PREFIXES
from freshforce.sandbox.salesforce.objects import (
    FieldSpec,
    ObjectCatalog,
    ObjectSpec,
    system_fields,
)

if TYPE_CHECKING:
    from freshforce.sandbox.salesforce.records import Record
    from freshforce.sandbox.salesforce.transaction import Transaction

__all__ = [
    "DEFAULT_CURRENCIES",
    "after_write",
    "backfill",
    "derive",
    "enable_multi_currency",
    "is_multi_currency",
    "set_up",
]

# The currencies a new multi-currency org has: (ISO code, rate against the corporate one).
DEFAULT_CURRENCIES: tuple[tuple[str, float], ...] = (
    ("USD", 1.0),
    ("EUR", 0.92),
    ("GBP", 0.79),
    ("CAD", 1.36),
)
CURRENCY_OBJECTS = ("Account", "Contact", "Opportunity", "PricebookEntry", "Order")
# Children whose currency is their parent's: object -> (parent reference, parent's label).
_FOLLOWS: dict[str, tuple[str, str]] = {
    "OpportunityLineItem": ("OpportunityId", "opportunity"),
    "OrderItem": ("OrderId", "order"),
}
# Parents that keep their currency once they have products: object -> child relationship.
_ITEMS = {"Opportunity": "OpportunityLineItems", "Order": "OrderItems"}
_FIRST_DAY = "0001-01-01"
_LAST_DAY = "9999-12-31"
_ISO_CODE = re.compile(r"^[A-Z]{3}$")
_RATE = {"precision": 18, "scale": 6}


def is_multi_currency(catalog: ObjectCatalog) -> bool:
    """Whether the org has multi-currency on (it then has the ``CurrencyType`` object)."""
    return catalog.get("CurrencyType") is not None


def enable_multi_currency(catalog: ObjectCatalog) -> None:
    """Turn multi-currency on: add the currency objects and ``CurrencyIsoCode`` fields."""
    if is_multi_currency(catalog):
        return
    codes = tuple(code for code, _ in DEFAULT_CURRENCIES)
    for spec in list(catalog):
        if spec.name in CURRENCY_OBJECTS or spec.custom:
            writable = spec.name != "PricebookEntry"  # an entry's currency is fixed at create
            catalog.put(spec.with_field(_iso_field(codes, updateable=writable)))
        elif spec.name in _FOLLOWS:
            read_only = _iso_field(codes, updateable=False)
            catalog.put(spec.with_field(replace(read_only, createable=False)))
    catalog.put(_currency_type())
    catalog.put(_dated_rate())


def _iso_field(codes: tuple[str, ...], *, updateable: bool) -> FieldSpec:
    return FieldSpec(
        name="CurrencyIsoCode",
        type="picklist",
        label="Currency ISO Code",
        length=3,
        nillable=False,
        defaulted_on_create=True,
        updateable=updateable,
        picklist_values=codes,
        restricted_picklist=False,  # checked against the live CurrencyType records instead
    )


def _object(name: str, plural: str, fields: list[FieldSpec]) -> ObjectSpec:
    return ObjectSpec(
        name=name,
        label=name,
        label_plural=plural,
        key_prefix=KEY_PREFIXES[name],
        fields=(*system_fields(), *fields),
    )


def _currency_type() -> ObjectSpec:
    iso = FieldSpec(name="IsoCode", type="picklist", length=3, nillable=False, unique=True)
    return _object(
        "CurrencyType",
        "Currency Types",
        [
            replace(iso, label="Currency ISO Code", updateable=False),
            FieldSpec(name="ConversionRate", type="double", nillable=False, **_RATE),  # type: ignore[arg-type]
            FieldSpec(name="DecimalPlaces", type="int", precision=9, defaulted_on_create=True),
            FieldSpec(name="IsActive", type="boolean", nillable=False, defaulted_on_create=True),
            FieldSpec(
                name="IsCorporate",
                type="boolean",
                nillable=False,
                defaulted_on_create=True,
                createable=False,
                updateable=False,
            ),
        ],
    )


def _dated_rate() -> ObjectSpec:
    return _object(
        "DatedConversionRate",
        "Dated Conversion Rates",
        [
            FieldSpec(name="IsoCode", type="picklist", length=3, nillable=False, updateable=False),
            FieldSpec(name="StartDate", type="date", nillable=False, updateable=False),
            FieldSpec(
                name="NextStartDate",
                type="date",
                createable=False,
                updateable=False,
                calculated=True,
            ),
            FieldSpec(name="ConversionRate", type="double", nillable=False, **_RATE),  # type: ignore[arg-type]
        ],
    )


# ----------------------------------------------------------------- org setup


def set_up(tx: Transaction) -> None:
    """Create the org's currencies (the first is corporate) when multi-currency is on."""
    if not is_multi_currency(tx.state.catalog):
        return
    for index, (code, rate) in enumerate(DEFAULT_CURRENCIES):
        tx.create(
            "CurrencyType",
            {"IsoCode": code, "ConversionRate": rate, "DecimalPlaces": 2, "IsActive": True},
            extra={"IsCorporate": index == 0},
        )


def _currencies(tx: Transaction) -> list[Record]:
    return list(tx.state.records("CurrencyType"))


def _corporate(tx: Transaction) -> str | None:
    found = next((c for c in _currencies(tx) if c.get("IsCorporate")), None)
    return None if found is None else str(found["IsoCode"])


def _invalid_code(code: object, field_name: str = "CurrencyIsoCode") -> SalesforceError:
    return SalesforceError(
        400,
        ErrorItem(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Currency ISO Code: invalid currency code: {code}",
            (field_name,),
        ),
    )


def _check_active(tx: Transaction, code: object, field_name: str = "CurrencyIsoCode") -> None:
    active = {c["IsoCode"] for c in _currencies(tx) if c.get("IsActive")}
    if code not in active:
        raise _invalid_code(code, field_name)


# ----------------------------------------------------------------- writes


def derive(
    tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record, given: Record
) -> None:
    """Default and check currencies; split dated rate ranges. Nothing in a single-currency org."""
    if not is_multi_currency(tx.state.catalog):
        return
    if spec.name == "CurrencyType" and old is None:
        if not _ISO_CODE.match(str(new.get("IsoCode") or "")):
            raise _invalid_code(new.get("IsoCode"), "IsoCode")
    elif spec.name == "DatedConversionRate" and old is None:
        _split_range(tx, spec, new)
    if spec.field("CurrencyIsoCode") is None:
        return
    if spec.name in _FOLLOWS:
        _follow_parent(tx, spec.name, new)
    elif new.get("CurrencyIsoCode") is None:
        new["CurrencyIsoCode"] = _corporate(tx)
    elif "CurrencyIsoCode" in given:
        _check_active(tx, new["CurrencyIsoCode"])
        if old is not None and old.get("CurrencyIsoCode") != new["CurrencyIsoCode"]:
            _keep_currency(tx, spec, old)


def _keep_currency(tx: Transaction, spec: ObjectSpec, old: Record) -> None:
    """Refuse a new currency on an opportunity or order with products (the API rejects it)."""
    relationship = _ITEMS.get(spec.name)
    if relationship and tx.state.children(spec.name, str(old["Id"]), relationship):
        raise field_integrity(
            f"CurrencyIsoCode (cannot change the currency of an {spec.name.lower()} with products)",
            ("CurrencyIsoCode",),
        )


def _follow_parent(tx: Transaction, object_name: str, new: Record) -> None:
    parent_field, label = _FOLLOWS[object_name]
    parent = tx.state.get_record(str(new.get(parent_field) or ""))
    if parent is None:
        return  # the reference check names the bad field
    new["CurrencyIsoCode"] = parent.get("CurrencyIsoCode")
    entry = tx.state.get_record(str(new.get("PricebookEntryId") or ""))
    if entry is not None and entry.get("CurrencyIsoCode") != new["CurrencyIsoCode"]:
        raise field_integrity(
            f"PricebookEntryId (pricebook entry currency code does not match {label} "
            "currency code)",
            ("PricebookEntryId",),
        )


def _rates(tx: Transaction, code: object) -> list[Record]:
    rates = (r for r in tx.state.records("DatedConversionRate") if r.get("IsoCode") == code)
    return sorted(rates, key=lambda r: str(r["StartDate"]))


def _split_range(tx: Transaction, spec: ObjectSpec, new: Record) -> None:
    """Give a new dated rate its ``NextStartDate`` and end the range it starts inside."""
    code = new.get("IsoCode")
    if code not in {c["IsoCode"] for c in _currencies(tx)}:
        raise _invalid_code(code, "IsoCode")
    start = str(new.get("StartDate") or _FIRST_DAY)
    new["StartDate"] = start
    rates = _rates(tx, code)
    same = next((r for r in rates if r["StartDate"] == start), None)
    if same is not None:
        raise duplicate_value("StartDate", str(same["Id"]))
    later = [str(r["StartDate"]) for r in rates if str(r["StartDate"]) > start]
    new["NextStartDate"] = later[0] if later else _LAST_DAY
    earlier = [r for r in rates if str(r["StartDate"]) < start]
    if earlier:
        tx.write(spec, earlier[-1], {**earlier[-1], "NextStartDate": start})


def after_write(tx: Transaction, spec: ObjectSpec, old: Record | None, new: Record) -> None:
    """Open a new currency's first dated rate; close the gap a deleted dated rate leaves."""
    if spec.name == "CurrencyType":
        _refresh_picklists(tx)
    if spec.name == "CurrencyType" and old is None:
        tx.create(
            "DatedConversionRate",
            {
                "IsoCode": new["IsoCode"],
                "StartDate": _FIRST_DAY,
                "ConversionRate": new["ConversionRate"],
            },
        )
    elif spec.name == "DatedConversionRate" and new.get("IsDeleted") and old is not None:
        start = str(new["StartDate"])
        earlier = [r for r in _rates(tx, new["IsoCode"]) if str(r["StartDate"]) < start]
        if earlier:
            tx.write(spec, earlier[-1], {**earlier[-1], "NextStartDate": new["NextStartDate"]})


def _refresh_picklists(tx: Transaction) -> None:
    """List the active currencies in every ``CurrencyIsoCode`` picklist, as describe shows it.

    Metadata is not rolled back with the records: a currency whose creation fails stays listed
    until the next currency write, which only describe shows (writes check the records).
    """
    codes = tuple(str(c["IsoCode"]) for c in _currencies(tx) if c.get("IsActive"))
    catalog = tx.state.catalog
    for spec in list(catalog):
        found = spec.field("CurrencyIsoCode")
        if found is not None and found.picklist_values != codes:
            catalog.put(spec.with_field(replace(found, picklist_values=codes)))


def backfill(tx: Transaction) -> None:
    """Give every existing record the corporate currency (multi-currency just turned on).

    As in Salesforce, turning the setting on changes no record's audit fields and sends no
    change events: the records are replaced as they are, plus ``CurrencyIsoCode``.
    """
    corporate = _corporate(tx)
    tables = tx.state.tables
    for spec in list(tx.state.catalog):
        if spec.field("CurrencyIsoCode") is None:
            continue
        for record in list(tables.table(spec.name).values()):
            if record.get("CurrencyIsoCode") is None:
                tables.put(spec, str(record["Id"]), {**record, "CurrencyIsoCode": corporate})
