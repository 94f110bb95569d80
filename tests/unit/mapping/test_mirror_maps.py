"""Mirror maps: the shipped ones load; a wrong one is reported at its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshforce.mapping import Direction, check_maps
from freshforce.mapping.loader import shipped_text

SHIPPED = ("invoices", "payments", "orders")


def _write(directory: Path, name: str, text: str) -> None:
    (directory / f"mirror_{name}.yaml").write_text(text, encoding="utf-8")


def test_the_shipped_mirror_maps_load_as_flows_of_their_own(tmp_path: Path) -> None:
    for name in SHIPPED:
        _write(tmp_path, name, shipped_text(f"mirrors/mirror_{name}.yaml"))

    maps, problems = check_maps(tmp_path)

    assert problems == []
    assert maps is not None
    invoices = maps["mirror_invoices"]
    assert invoices.flow == "mirror_invoices"
    assert invoices.mirror is not None
    assert invoices.mirror.external_id == "FreshBooks_Invoice_Id__c"
    assert invoices.lines is not None
    assert invoices.lines.salesforce == "FreshBooks_Invoice_Line__c"
    assert all(rule.direction is Direction.TO_SALESFORCE for rule in invoices.rules)
    orders = maps["mirror_orders"].mirror
    assert orders is not None
    assert orders.guard is not None
    assert (orders.guard.field, orders.guard.values) == ("Status", ["Activated"])
    assert maps["clients"].mirror is None  # the three flows are not mirrors


def test_an_invoice_maps_to_its_mirror_and_lines(tmp_path: Path) -> None:
    _write(tmp_path, "invoices", shipped_text("mirrors/mirror_invoices.yaml"))
    maps, _ = check_maps(tmp_path)
    assert maps is not None
    invoice = {
        "id": 7, "invoice_number": "0000007", "v3_status": "partial", "vis_state": 0,
        "create_date": "2026-11-02", "due_date": "2026-12-02",
        "amount": {"amount": "30.00", "code": "CAD"},
        "outstanding": {"amount": "10.00", "code": "CAD"},
        "paid": {"amount": "20.00", "code": "CAD"},
        "lines": [{"lineid": 1, "name": " Design ", "qty": "3", "unit_cost": {"amount": "10"},
                   "amount": {"amount": "30.00"}}],
    }  # fmt: skip

    mapped = maps["mirror_invoices"].apply(invoice, Direction.TO_SALESFORCE)

    head = mapped.by_object()["FreshBooks_Invoice__c"]
    assert (head["Name"], head["Status__c"], head["Currency__c"]) == ("0000007", "Partial", "CAD")
    assert (str(head["Amount__c"]), str(head["Outstanding__c"])) == ("30.00", "10.00")
    assert head["Archived__c"] is False
    [line] = [m.by_object()["FreshBooks_Invoice_Line__c"] for m in mapped.lines]
    assert (line["Name"], str(line["Quantity__c"]), line["Line_Number__c"]) == ("Design", "3.00", 1)


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            (
                "  - {freshbooks: invoice_number, salesforce: FreshBooks_Invoice__c.Name}",
                (
                    "  - {freshbooks: invoice_number, salesforce: FreshBooks_Invoice__c.Name, "
                    "direction: both}"
                ),
            ),
            "fields[0].direction",
            "a mirror flow writes to Salesforce only",
        ),
        (
            ("  external_id: FreshBooks_Invoice_Id__c", "  external_id: FreshBooks_Invoice_Id"),
            "mirror.external_id",
            "unknown salesforce field FreshBooks_Invoice__c.FreshBooks_Invoice_Id",
        ),
        (
            ("link: clients, object: Account", "object: Account"),
            "mirror.lookups[0]",
            "",
        ),
    ],
)
def test_a_wrong_mirror_map_names_the_place(
    tmp_path: Path, change: tuple[str, str], where: str, message: str
) -> None:
    text = shipped_text("mirrors/mirror_invoices.yaml")
    old, new = change
    assert old in text
    _write(tmp_path, "invoices", text.replace(old, new, 1))

    maps, problems = check_maps(tmp_path)

    if not message:  # a lookup by query alone is fine
        assert problems == []
        return
    assert maps is None
    assert [(p.path, message in p.message) for p in problems] == [(where, True)]
    assert problems[0].file.endswith("mirror_invoices.yaml")
    assert problems[0].line > 0


def test_a_mirror_file_needs_its_section_and_a_flow_file_may_not_have_one(tmp_path: Path) -> None:
    text = shipped_text("mirrors/mirror_payments.yaml")
    start = text.index("mirror:\n")
    end = text.index("deletes:")
    _write(tmp_path, "payments", text[:start] + text[end:])
    clients = shipped_text("clients.yaml") + "\nmirror: {external_id: FreshBooks_Client_Id__c}\n"
    (tmp_path / "clients.yaml").write_text(clients, encoding="utf-8")

    _, problems = check_maps(tmp_path)

    found = sorted((Path(p.file).name, p.message) for p in problems)
    assert found == [
        ("clients.yaml", "only a flow: mirror file has a mirror: section"),
        ("mirror_payments.yaml", "a mirror flow needs a mirror: section (external_id, ...)"),
    ]
