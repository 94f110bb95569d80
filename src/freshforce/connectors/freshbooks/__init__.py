"""The FreshBooks connector: error mapping, client, callbacks and webhook signatures."""

from freshforce.connectors.freshbooks.client import (
    RESOURCES,
    Callback,
    FreshBooksClient,
    Page,
    Resource,
)
from freshforce.connectors.freshbooks.errors import map_freshbooks_error
from freshforce.connectors.freshbooks.models import (
    Client,
    Identity,
    Invoice,
    InvoiceLine,
    Item,
    Money,
    Payment,
    Record,
    Tax,
)
from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER, verify_signature

__all__ = [
    "RESOURCES",
    "SIGNATURE_HEADER",
    "Callback",
    "Client",
    "FreshBooksClient",
    "Identity",
    "Invoice",
    "InvoiceLine",
    "Item",
    "Money",
    "Page",
    "Payment",
    "Record",
    "Resource",
    "Tax",
    "map_freshbooks_error",
    "verify_signature",
]
