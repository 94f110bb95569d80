"""The sandbox org's object metadata: objects, their fields and relationships, as describe shows.

Everything that needs to know what an object looks like reads it from here: REST describe and
validation (``state.py``), SOQL, and the Pub/Sub server building Avro schemas (``soap_type``).
An admin may add custom ``__c`` fields at run time through ``ObjectCatalog.add_custom_field``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

from freshforce.sandbox.salesforce.ids import KEY_PREFIXES

__all__ = [
    "ChildRelationship",
    "FieldSpec",
    "FieldType",
    "ObjectCatalog",
    "ObjectSpec",
    "standard_catalog",
    "system_fields",
]

FieldType = Literal[
    "id",
    "reference",
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "boolean",
    "currency",
    "double",
    "percent",
    "int",
    "date",
    "datetime",
    "address",
]

_SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "currency": "xsd:double",
    "double": "xsd:double",
    "percent": "xsd:double",
    "int": "xsd:int",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}

_TEXT_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist"})


@dataclass(frozen=True)
class FieldSpec:
    """One field of an object, with the attributes describe reports and validation uses.

    ``child_relationship`` (reference fields only) names the relationship on the parent object
    that lists the children, such as ``Contacts`` for ``Contact.AccountId``.
    """

    name: str
    type: FieldType
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted_on_create: bool = False
    unique: bool = False
    external_id: bool = False
    calculated: bool = False
    name_field: bool = False
    picklist_values: tuple[str, ...] = ()
    restricted_picklist: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    child_relationship: str | None = None
    compound_field_name: str | None = None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def soap_type(self) -> str:
        """The SOAP type (``xsd:string``, ``tns:ID``, …) Pub/Sub schemas are built from."""
        return _SOAP_TYPES.get(self.type, "xsd:string")

    @property
    def is_text(self) -> bool:
        return self.type in _TEXT_TYPES

    @property
    def required(self) -> bool:
        """Whether a create must supply a value (describe: not nillable, not defaulted)."""
        return (
            self.createable
            and not self.nillable
            and not self.defaulted_on_create
            and self.type != "boolean"
        )


@dataclass(frozen=True)
class ChildRelationship:
    """A parent→child relationship: ``childSObject.field`` points here, listed as ``name``."""

    child_sobject: str
    field: str
    relationship_name: str


@dataclass(frozen=True)
class ObjectSpec:
    """One object: name, label, key prefix and fields (looked up case-insensitively)."""

    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[FieldSpec, ...]
    custom: bool = False
    _by_lower: dict[str, FieldSpec] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_lower.update({f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        """Return the field called ``name`` (any case), or ``None``."""
        return self._by_lower.get(name.lower())

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def external_id_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.external_id]

    def with_field(self, spec: FieldSpec) -> ObjectSpec:
        """Return a copy with ``spec`` added (replacing a field of the same name)."""
        kept = tuple(f for f in self.fields if f.name.lower() != spec.name.lower())
        return replace(self, fields=(*kept, spec))


class ObjectCatalog:
    """The org's objects by name (case-insensitive), with child relationships derived."""

    def __init__(self, objects: list[ObjectSpec]) -> None:
        self._objects: dict[str, ObjectSpec] = {o.name.lower(): o for o in objects}

    def get(self, name: str) -> ObjectSpec | None:
        """Return the object called ``name`` (any case), or ``None``."""
        return self._objects.get(name.lower())

    def __iter__(self) -> Iterator[ObjectSpec]:
        return iter(list(self._objects.values()))

    def by_prefix(self, prefix: str) -> ObjectSpec | None:
        """Return the object whose ids start with ``prefix``, or ``None``."""
        return next((o for o in self._objects.values() if o.key_prefix == prefix), None)

    def child_relationships(self, name: str) -> list[ChildRelationship]:
        """Return the relationships listing children of object ``name``."""
        target = self.get(name)
        if target is None:
            return []
        return [
            ChildRelationship(child.name, f.name, f.child_relationship)
            for child in self._objects.values()
            for f in child.fields
            if f.child_relationship and target.name in f.reference_to
        ]

    def put(self, spec: ObjectSpec) -> None:
        """Add an object, or replace the one of the same name (org settings change metadata)."""
        self._objects[spec.name.lower()] = spec

    def child_relationship(self, name: str, relationship: str) -> ChildRelationship | None:
        """Return object ``name``'s child relationship called ``relationship`` (any case)."""
        wanted = relationship.lower()
        found = self.child_relationships(name)
        return next((r for r in found if r.relationship_name.lower() == wanted), None)

    def add_custom_field(self, object_name: str, spec: FieldSpec) -> FieldSpec:
        """Add (or replace) a custom ``__c`` field on an object, as an admin would in Setup."""
        target = self.get(object_name)
        if target is None:
            raise KeyError(f"no object called {object_name!r}")
        if not spec.name.endswith("__c") or len(spec.name) <= len("__c"):
            raise ValueError(f"custom field names end in '__c': {spec.name!r}")
        existing = target.field(spec.name)
        if existing is not None and not existing.custom:
            raise ValueError(f"{spec.name!r} is a standard field of {target.name}")
        if spec.type == "reference" and spec.relationship_name is None:
            spec = replace(spec, relationship_name=spec.name[: -len("__c")] + "__r")
        self._objects[target.name.lower()] = target.with_field(spec)
        return spec


# ----------------------------------------------------------------- field constructors


def _text(name: str, length: int = 255, **extra: object) -> FieldSpec:
    return FieldSpec(name=name, type="string", length=length, **extra)  # type: ignore[arg-type]


def _typed(name: str, kind: FieldType, **extra: object) -> FieldSpec:
    sizes: dict[str, dict[str, int]] = {
        "currency": {"precision": 18, "scale": 2},
        "double": {"precision": 18, "scale": 2},
        "percent": {"precision": 3, "scale": 0},
        "int": {"precision": 9},
        "email": {"length": 80},
        "phone": {"length": 40},
        "url": {"length": 255},
        "textarea": {"length": 32000},
        "picklist": {"length": 255},
    }
    merged = {**sizes.get(kind, {}), **extra}
    return FieldSpec(name=name, type=kind, **merged)  # type: ignore[arg-type]


def _ref(
    name: str,
    target: str,
    relationship: str,
    child: str | None = None,
    /,
    **extra: bool,
) -> FieldSpec:
    return FieldSpec(
        name=name,
        type="reference",
        length=18,
        reference_to=(target,),
        relationship_name=relationship,
        child_relationship=child,
        **extra,  # type: ignore[arg-type]  # only the boolean flags are passed
    )


def _read_only(spec: FieldSpec) -> FieldSpec:
    return replace(spec, createable=False, updateable=False, calculated=True)


def system_fields() -> list[FieldSpec]:
    """Return the fields every object has: Id, IsDeleted and the audit fields."""
    audit = {"nillable": False, "createable": False, "updateable": False}
    return [
        FieldSpec(name="Id", type="id", length=18, defaulted_on_create=True, **audit),  # type: ignore[arg-type]
        _typed("IsDeleted", "boolean", defaulted_on_create=True, **audit),
        _typed("CreatedDate", "datetime", defaulted_on_create=True, **audit),
        _ref("CreatedById", "User", "CreatedBy", defaulted_on_create=True, **audit),
        _typed("LastModifiedDate", "datetime", defaulted_on_create=True, **audit),
        _ref("LastModifiedById", "User", "LastModifiedBy", defaulted_on_create=True, **audit),
        _typed("SystemModstamp", "datetime", defaulted_on_create=True, **audit),
    ]


def _owner() -> FieldSpec:
    return _ref("OwnerId", "User", "Owner", nillable=False, defaulted_on_create=True)


def _master_record(target: str) -> FieldSpec:
    """Return the field naming the record a merge loser went into (set by merges only)."""
    return _read_only(_ref("MasterRecordId", target, "MasterRecord"))


GEOCODE_ACCURACIES = (
    "Address",
    "NearAddress",
    "Block",
    "Street",
    "ExtendedZip",
    "Zip",
    "Neighborhood",
    "City",
    "County",
    "State",
    "Unknown",
)


def _address(prefix: str) -> list[FieldSpec]:
    """Return the parts of an address, then its read-only compound ``<prefix>Address``."""
    compound = f"{prefix}Address"
    parts = [
        _typed(f"{prefix}Street", "textarea", length=255),
        _text(f"{prefix}City", 40),
        _text(f"{prefix}State", 80),
        _text(f"{prefix}PostalCode", 20),
        _text(f"{prefix}Country", 80),
        _typed(f"{prefix}Latitude", "double", precision=18, scale=15),
        _typed(f"{prefix}Longitude", "double", precision=18, scale=15),
        _typed(
            f"{prefix}GeocodeAccuracy",
            "picklist",
            picklist_values=GEOCODE_ACCURACIES,
            restricted_picklist=True,
        ),
    ]
    whole = FieldSpec(name=compound, type="address", createable=False, updateable=False)
    return [replace(p, compound_field_name=compound) for p in parts] + [whole]


def _object(name: str, plural: str, fields: list[FieldSpec]) -> ObjectSpec:
    label = "".join(f" {c}" if c.isupper() and i else c for i, c in enumerate(name)).strip()
    return ObjectSpec(
        name=name,
        label=label.removesuffix("2"),
        label_plural=plural,
        key_prefix=KEY_PREFIXES[name],
        fields=(*system_fields(), *fields),
    )


# ----------------------------------------------------------------- the standard objects

OPPORTUNITY_STAGES: tuple[tuple[str, bool, bool, int], ...] = (
    # (StageName, IsClosed, IsWon, default Probability)
    ("Prospecting", False, False, 10),
    ("Qualification", False, False, 10),
    ("Needs Analysis", False, False, 20),
    ("Value Proposition", False, False, 50),
    ("Id. Decision Makers", False, False, 60),
    ("Perception Analysis", False, False, 70),
    ("Proposal/Price Quote", False, False, 75),
    ("Negotiation/Review", False, False, 90),
    ("Closed Won", True, True, 100),
    ("Closed Lost", True, False, 0),
)

PAYMENT_STATUSES = ("Unpaid", "Partially Paid", "Paid", "Overpaid", "Refunded")


def _account() -> ObjectSpec:
    industries = ("Agriculture", "Banking", "Consulting", "Education", "Retail", "Technology")
    return _object(
        "Account",
        "Accounts",
        [
            _text("Name", nillable=False, name_field=True),
            _typed("Type", "picklist", picklist_values=("Prospect", "Customer", "Partner")),
            _ref("ParentId", "Account", "Parent", "ChildAccounts"),
            *_address("Billing"),
            *_address("Shipping"),
            _typed("Phone", "phone"),
            _typed("Fax", "phone"),
            _typed("Website", "url"),
            _typed("Industry", "picklist", picklist_values=industries),
            _typed("AnnualRevenue", "currency"),
            _typed("NumberOfEmployees", "int", precision=8),
            _text("AccountNumber", 40),
            _typed("Description", "textarea"),
            _owner(),
            _text("FreshBooks_Client_Id__c", external_id=True, unique=True),
            _master_record("Account"),
        ],
    )


def _contact() -> ObjectSpec:
    return _object(
        "Contact",
        "Contacts",
        [
            _typed(
                "Salutation", "picklist", picklist_values=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")
            ),
            _text("FirstName", 40),
            _text("LastName", 80, nillable=False),
            _read_only(_text("Name", 121, name_field=True)),
            _ref("AccountId", "Account", "Account", "Contacts"),
            _typed("Email", "email"),
            _typed("Phone", "phone"),
            _typed("MobilePhone", "phone"),
            _text("Title", 128),
            _text("Department", 80),
            *_address("Mailing"),
            _typed("Description", "textarea"),
            _owner(),
            _master_record("Contact"),
        ],
    )


def _opportunity() -> ObjectSpec:
    stages = tuple(stage for stage, *_ in OPPORTUNITY_STAGES)
    return _object(
        "Opportunity",
        "Opportunities",
        [
            _text("Name", 120, nillable=False, name_field=True),
            _ref("AccountId", "Account", "Account", "Opportunities"),
            _ref("ContactId", "Contact", "Contact"),
            _typed(
                "StageName",
                "picklist",
                nillable=False,
                picklist_values=stages,
                restricted_picklist=True,
            ),
            _typed("CloseDate", "date", nillable=False),
            _typed("Amount", "currency"),
            _typed("Probability", "percent"),
            _read_only(_typed("IsClosed", "boolean", nillable=False, defaulted_on_create=True)),
            _read_only(_typed("IsWon", "boolean", nillable=False, defaulted_on_create=True)),
            _read_only(
                _typed(
                    "HasOpportunityLineItem", "boolean", nillable=False, defaulted_on_create=True
                )
            ),
            _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Opportunities"),
            _typed("Type", "picklist", picklist_values=("New Business", "Existing Business")),
            _typed("LeadSource", "picklist", picklist_values=("Web", "Phone Inquiry", "Partner")),
            _text("NextStep"),
            _typed("Description", "textarea"),
            _owner(),
            *_freshforce_invoice_fields(),
        ],
    )


def _freshforce_invoice_fields() -> list[FieldSpec]:
    return [
        _text("FreshBooks_Invoice_Id__c", external_id=True, unique=True),
        _text("FreshBooks_Invoice_Number__c"),
        _typed("FreshBooks_Invoice_Url__c", "url"),
        _typed("FreshBooks_Payment_Status__c", "picklist", picklist_values=PAYMENT_STATUSES),
        _typed("FreshBooks_Amount_Paid__c", "currency"),
        _typed("FreshBooks_Balance__c", "currency"),
        _typed("FreshBooks_Last_Payment_Date__c", "date"),
    ]


def _line_item() -> ObjectSpec:
    create_only = {"updateable": False}
    return _object(
        "OpportunityLineItem",
        "Opportunity Product",
        [
            _ref(
                "OpportunityId",
                "Opportunity",
                "Opportunity",
                "OpportunityLineItems",
                nillable=False,
                **create_only,
            ),
            _ref("PricebookEntryId", "PricebookEntry", "PricebookEntry", "OpportunityLineItems"),
            _ref("Product2Id", "Product2", "Product2", **create_only),
            _typed("Quantity", "double", precision=12, nillable=False),
            _typed("UnitPrice", "currency"),
            _typed("TotalPrice", "currency"),
            _read_only(_typed("ListPrice", "currency")),
            _typed("Discount", "percent", precision=5, scale=2),
            _text("Description"),
            _read_only(_text("Name", 376, name_field=True)),
            _read_only(_text("ProductCode")),
            _typed("ServiceDate", "date"),
            _typed("SortOrder", "int"),
        ],
    )


def _contact_role() -> ObjectSpec:
    roles = ("Business User", "Decision Maker", "Economic Buyer", "Influencer", "Other")
    return _object(
        "OpportunityContactRole",
        "Opportunity Contact Role",
        [
            _ref(
                "OpportunityId",
                "Opportunity",
                "Opportunity",
                "OpportunityContactRoles",
                nillable=False,
                updateable=False,
            ),
            _ref("ContactId", "Contact", "Contact", "OpportunityContactRoles", nillable=False),
            _typed("Role", "picklist", picklist_values=roles),
            _typed("IsPrimary", "boolean", nillable=False, defaulted_on_create=True),
        ],
    )


def _product() -> ObjectSpec:
    families = ("Hardware", "Software", "Services")
    return _object(
        "Product2",
        "Products",
        [
            _text("Name", nillable=False, name_field=True),
            _text("ProductCode"),
            _typed("Description", "textarea", length=4000),
            _typed("IsActive", "boolean", nillable=False, defaulted_on_create=True),
            _typed("Family", "picklist", picklist_values=families),
        ],
    )


def _pricebook() -> ObjectSpec:
    return _object(
        "Pricebook2",
        "Price Books",
        [
            _text("Name", nillable=False, name_field=True),
            _typed("IsActive", "boolean", nillable=False, defaulted_on_create=True),
            _read_only(_typed("IsStandard", "boolean", nillable=False, defaulted_on_create=True)),
            _text("Description"),
        ],
    )


def _pricebook_entry() -> ObjectSpec:
    create_only = {"nillable": False, "updateable": False}
    return _object(
        "PricebookEntry",
        "Price Book Entries",
        [
            _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "PricebookEntries", **create_only),
            _ref("Product2Id", "Product2", "Product2", "PricebookEntries", **create_only),
            _typed("UnitPrice", "currency", nillable=False),
            _typed("IsActive", "boolean", nillable=False, defaulted_on_create=True),
            _typed("UseStandardPrice", "boolean", nillable=False, defaulted_on_create=True),
            _read_only(_text("Name", name_field=True)),
            _read_only(_text("ProductCode")),
        ],
    )


ORDER_STATUSES = ("Draft", "Activated")


def _order() -> ObjectSpec:
    read_only_text = _read_only(_text("OrderNumber", 30, name_field=True))
    return _object(
        "Order",
        "Orders",
        [
            _ref("AccountId", "Account", "Account", "Orders", nillable=False),
            _text("Name", 80),
            read_only_text,
            _typed("EffectiveDate", "date", nillable=False),
            _typed("EndDate", "date"),
            _typed(
                "Status",
                "picklist",
                nillable=False,
                defaulted_on_create=True,
                picklist_values=ORDER_STATUSES,
                restricted_picklist=True,
            ),
            _read_only(_typed("StatusCode", "picklist", picklist_values=ORDER_STATUSES)),
            _read_only(_typed("ActivatedDate", "datetime")),
            _ref("Pricebook2Id", "Pricebook2", "Pricebook2", "Orders"),
            _ref("OpportunityId", "Opportunity", "Opportunity", "Orders"),
            _read_only(_typed("TotalAmount", "currency")),
            _typed("Description", "textarea"),
            _owner(),
        ],
    )


def _order_item() -> ObjectSpec:
    create_only = {"nillable": False, "updateable": False}
    return _object(
        "OrderItem",
        "Order Products",
        [
            _ref("OrderId", "Order", "Order", "OrderItems", **create_only),
            _ref(
                "PricebookEntryId", "PricebookEntry", "PricebookEntry", "OrderItems", **create_only
            ),
            _read_only(_ref("Product2Id", "Product2", "Product2")),
            _typed("Quantity", "double", precision=12, nillable=False),
            _typed("UnitPrice", "currency", nillable=False),
            _read_only(_typed("ListPrice", "currency")),
            _read_only(_typed("TotalPrice", "currency")),
            _typed("ServiceDate", "date"),
            _typed("EndDate", "date"),
            _text("Description"),
        ],
    )


def _user() -> ObjectSpec:
    defaulted = {"nillable": False, "defaulted_on_create": True}
    return _object(
        "User",
        "Users",
        [
            _text("Username", 80, nillable=False, unique=True),
            _text("FirstName", 40),
            _text("LastName", 80, nillable=False),
            _read_only(_text("Name", 121, name_field=True)),
            _typed("Email", "email", length=128, nillable=False),
            _text("Alias", 8, nillable=False),
            _typed("IsActive", "boolean", **defaulted),
            _text("TimeZoneSidKey", 40, **defaulted),
            _text("LocaleSidKey", 40, **defaulted),
            _text("LanguageLocaleKey", 40, **defaulted),
            _text("EmailEncodingKey", 40, **defaulted),
            _text("Title", 80),
        ],
    )


def standard_catalog() -> ObjectCatalog:
    """Build a fresh catalog of the standard objects with freshforce's custom fields."""
    # The mirror maps' custom objects and keys (objects_mirror.py imports from here).
    from freshforce.sandbox.salesforce.objects_mirror import (  # noqa: PLC0415
        mirror_fields,
        mirror_objects,
    )

    standard = [
        _account(),
        _contact(),
        _opportunity(),
        _line_item(),
        _contact_role(),
        _product(),
        _pricebook(),
        _pricebook_entry(),
        _order(),
        _order_item(),
        _user(),
    ]
    return ObjectCatalog([*(mirror_fields(o) for o in standard), *mirror_objects()])
