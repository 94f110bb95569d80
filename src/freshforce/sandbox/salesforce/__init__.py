"""The Salesforce sandbox: REST, SOQL, Bulk API 2.0 and change data capture over Pub/Sub.

Build one org with ``build_salesforce_sandbox`` (state, sessions, app); ``create_app`` builds the
HTTP app around a state you made yourself.
"""

from freshforce.sandbox.salesforce.api import create_app
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox
from freshforce.sandbox.salesforce.changes import ChangeLog, ChangeRecord
from freshforce.sandbox.salesforce.objects import FieldSpec, ObjectCatalog, ObjectSpec
from freshforce.sandbox.salesforce.sessions import ConnectedApp, Sessions
from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext

__all__ = [
    "ChangeLog",
    "ChangeRecord",
    "ConnectedApp",
    "FieldSpec",
    "ObjectCatalog",
    "ObjectSpec",
    "SalesforceSandbox",
    "SalesforceState",
    "Sessions",
    "WriteContext",
    "build_salesforce_sandbox",
    "create_app",
]
