"""What the service polls and subscribes to comes from the maps of the flows that run."""

from __future__ import annotations

from structlog.testing import capture_logs

from freshforce.intake import PollTarget
from freshforce.mapping import load_maps
from freshforce.mapping.loader import shipped_text
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


def test_one_way_flows_are_triggered_from_their_source_side_only() -> None:
    with capture_logs() as logs:
        targets = intake_targets(load_maps(None), {"clients", "invoices", "payments"})
    assert dict(targets.freshbooks) == {
        "clients": "clients",
        "payments": "payments",  # payment_summary is built from payment records
        "invoices": "payments",  # ... and an invoice's change moves its summary
    }
    assert set(targets.salesforce) == {
        PollTarget("Account", "clients"),
        PollTarget("Contact", "clients"),
        PollTarget("Opportunity", "invoices"),
        PollTarget("OpportunityLineItem", "invoices"),  # a line's description changes no deal field
    }
    assert targets.cdc == {
        "Account": "clients",
        "Contact": "clients",
        "Opportunity": "invoices",
        "OpportunityLineItem": "invoices",
    }
    assert [e for e in logs if e["event"].endswith("_shared")] == []


def test_change_event_topics_follow_salesforce_naming() -> None:
    assert cdc_topic("Account") == "/data/AccountChangeEvent"
    assert cdc_topic("Invoice_Line__c") == "/data/Invoice_Line__ChangeEvent"


def test_mirror_flows_ride_along_on_their_freshbooks_resource(tmp_path) -> None:
    for name in ("invoices", "payments", "orders"):
        text = shipped_text(f"mirrors/mirror_{name}.yaml")
        (tmp_path / f"mirror_{name}.yaml").write_text(text, encoding="utf-8")
    maps = load_maps(tmp_path)
    everything = {"clients", "payments", "mirror_invoices", "mirror_payments", "mirror_orders"}

    targets = intake_targets(maps, everything)

    assert dict(targets.freshbooks) == {
        "clients": "clients",
        "payments": "payments",
        "invoices": "payments",
    }
    assert dict(targets.also) == {
        "invoices": ("mirror_invoices", "mirror_orders"),
        "payments": ("mirror_payments",),
    }
    # A mirror is one way: its Salesforce object is neither polled nor subscribed to.
    assert {t.flow for t in targets.salesforce} == {"clients"}
    alone = intake_targets(maps, {"mirror_invoices"})
    assert (dict(alone.freshbooks), dict(alone.also)) == ({"invoices": "mirror_invoices"}, {})
