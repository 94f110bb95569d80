from __future__ import annotations

import pytest

from freshforce.sandbox.salesforce.objects import FieldSpec, standard_catalog


def test_every_object_the_connector_needs_is_there_with_its_key_prefix():
    catalog = standard_catalog()
    prefixes = {spec.name: spec.key_prefix for spec in catalog}
    assert prefixes == {
        "Account": "001",
        "Contact": "003",
        "Opportunity": "006",
        "OpportunityLineItem": "00k",
        "OpportunityContactRole": "00K",
        "Product2": "01t",
        "Pricebook2": "01s",
        "PricebookEntry": "01u",
        "Order": "801",
        "OrderItem": "802",
        "User": "005",
        # The shipped mirror maps' custom objects (docs/salesforce/objects).
        "FreshBooks_Invoice__c": "a0F",
        "FreshBooks_Invoice_Line__c": "a0G",
        "FreshBooks_Payment__c": "a0H",
    }


def test_freshforce_fields_are_predefined():
    catalog = standard_catalog()
    account = catalog.get("account")
    assert account is not None
    client_id = account.field("freshbooks_client_id__c")
    assert client_id is not None
    assert client_id.external_id
    assert client_id.unique
    opportunity = catalog.get("Opportunity")
    assert opportunity is not None
    status = opportunity.field("FreshBooks_Payment_Status__c")
    assert status is not None
    assert status.picklist_values == ("Unpaid", "Partially Paid", "Paid", "Overpaid", "Refunded")
    assert opportunity.field("FreshBooks_Last_Payment_Date__c").type == "date"  # type: ignore[union-attr]
    assert opportunity.field("FreshBooks_Amount_Paid__c").soap_type == "xsd:double"  # type: ignore[union-attr]


def test_child_relationships_are_derived_from_reference_fields():
    catalog = standard_catalog()
    names = {r.relationship_name for r in catalog.child_relationships("Opportunity")}
    assert {"OpportunityLineItems", "OpportunityContactRoles"} <= names
    contacts = catalog.child_relationship("Account", "contacts")
    assert contacts is not None
    assert (contacts.child_sobject, contacts.field) == ("Contact", "AccountId")


def test_custom_fields_can_be_added_at_run_time_but_must_end_in_c():
    catalog = standard_catalog()
    catalog.add_custom_field("Account", FieldSpec(name="Tier__c", type="string", length=20))
    tier = catalog.get("Account").field("Tier__c")  # type: ignore[union-attr]
    assert tier is not None
    assert tier.custom
    with pytest.raises(ValueError, match="__c"):
        catalog.add_custom_field("Account", FieldSpec(name="Tier", type="string"))
    with pytest.raises(KeyError):
        catalog.add_custom_field("Nope", FieldSpec(name="X__c", type="string"))


def test_custom_references_get_an_r_relationship():
    catalog = standard_catalog()
    spec = FieldSpec(name="Partner__c", type="reference", reference_to=("Account",))
    added = catalog.add_custom_field("Opportunity", spec)
    assert added.relationship_name == "Partner__r"


def test_the_package_exports_its_entry_points():
    import freshforce.sandbox.salesforce as package  # noqa: PLC0415 - the import is the subject

    assert package.__all__ == [
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
    assert all(hasattr(package, name) for name in package.__all__)
