"""What the service polls and subscribes to comes from the maps of the flows that run."""

from __future__ import annotations

from structlog.testing import capture_logs

from freshforce.intake import PollTarget
from freshforce.mapping import load_maps
from freshforce.service import cdc_topic, intake_targets


def test_the_clients_flow_watches_clients_accounts_and_contacts() -> None:
    targets = intake_targets(load_maps(None), {"clients"})
    assert dict(targets.freshbooks) == {"clients": "clients"}
    assert targets.salesforce == (
        PollTarget("Account", "clients"),
        PollTarget("Contact", "clients"),
    )
    assert dict(targets.cdc) == {"Account": "clients", "Contact": "clients"}


def test_flows_without_a_registered_handler_are_not_watched() -> None:
    targets = intake_targets(load_maps(None), set())
    assert targets.empty
    assert intake_targets(load_maps(None), {"nope"}).empty


def test_an_object_two_flows_share_feeds_cdc_of_the_first_and_polls_of_both() -> None:
    with capture_logs() as logs:
        targets = intake_targets(load_maps(None), {"clients", "invoices", "payments"})
    assert dict(targets.freshbooks) == {
        "clients": "clients",
        "invoices": "invoices",
        "payments": "payments",  # payment_summary is built from payment records
    }
    assert PollTarget("Opportunity", "invoices") in targets.salesforce
    assert PollTarget("Opportunity", "payments") in targets.salesforce
    assert targets.cdc["Opportunity"] == "invoices"
    shared = [e for e in logs if e["event"] == "cdc_entity_shared"]
    assert [(e["target"], e["flow"], e["also"]) for e in shared] == [
        ("Opportunity", "invoices", "payments")
    ]


def test_change_event_topics_follow_salesforce_naming() -> None:
    assert cdc_topic("Account") == "/data/AccountChangeEvent"
    assert cdc_topic("Invoice_Line__c") == "/data/Invoice_Line__ChangeEvent"
