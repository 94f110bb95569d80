"""Mirror maps enabled in a world's configuration directory, and the mirrors read back."""

from __future__ import annotations

from typing import Any

from freshforce.connectors.freshbooks import RESOURCES
from freshforce.connectors.salesforce import Priority
from freshforce.flows.mirror import MirrorFlow, mirror_flows
from freshforce.mapping.loader import shipped_text

from .conftest import FlowWorld

P = Priority.CLIENTS
INVOICES = RESOURCES["invoices"]


def enable(world: FlowWorld, name: str, **values: Any) -> MirrorFlow:
    """Copy the shipped ``mirror_<name>.yaml`` into the configuration; return its flow."""
    text = shipped_text(f"mirrors/mirror_{name}.yaml")
    (world.config_dir / f"mirror_{name}.yaml").write_text(text, encoding="utf-8")
    return mirror_flows(world.runtime, world.maps(**values))[f"mirror_{name}"]


def line(name: str, qty: str, cost: str) -> dict[str, Any]:
    return {"name": name, "qty": qty, "unit_cost": {"amount": cost, "code": "USD"}}


async def new_invoice(world: FlowWorld, client_id: int, *lines: dict[str, Any]) -> int:
    body = {
        "customerid": client_id,
        "create_date": "2026-11-02",
        "currency_code": "USD",
        "lines": list(lines),
    }
    return (await world.freshbooks.create(INVOICES, body)).id


async def edit_lines(world: FlowWorld, invoice_id: int, *lines: dict[str, Any]) -> None:
    await world.freshbooks.update(INVOICES, invoice_id, {"lines": list(lines)})


async def mirror_once(world: FlowWorld, flow: MirrorFlow, invoice_id: int) -> str:
    """Run the flow's job for the invoice; return its status."""
    await world.enqueue(flow.name, f"freshbooks/invoice/{invoice_id}")
    await world.work([flow])
    return (await world.statuses())[f"freshbooks/invoice/{invoice_id}"]


async def rows(world: FlowWorld, soql: str) -> list[dict[str, Any]]:
    found = await world.salesforce.query(soql, priority=P)
    return [{k: v for k, v in r.items() if k != "attributes"} for r in found]


async def sf_calls(world: FlowWorld) -> int:
    """Return how many API calls the Salesforce sandbox has answered so far."""
    response = await world.sf_admin.get("/_sandbox/requests")
    return len(response.json()["requests"])


async def sf_writes(world: FlowWorld) -> int:
    """Return how many writes (POST, PUT, PATCH, DELETE) the Salesforce sandbox has answered."""
    response = await world.sf_admin.get("/_sandbox/requests", params={"method": "writes"})
    return len(response.json()["requests"])
