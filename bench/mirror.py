"""Mirror backfill bench: N FreshBooks invoices with three lines each, mirrored into Salesforce.

Both sandboxes run in process (``freshforce.embedded``) on a temporary SQLite store. The shipped
custom-object map (``mirror_invoices.yaml``) backfills every invoice as ``FreshBooks_Invoice__c``
with ``FreshBooks_Invoice_Line__c`` children, the way ``freshforce sync --initial`` does; the bench
prints the time, the Salesforce calls (all of them: queries, Collections, Bulk API jobs) per 100
records written and the peak RSS, then runs the backfill again (nothing to write).

    python bench/mirror.py --invoices 10000 [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from freshforce.embedded import SF_CONNECTION, open_embedded
from freshforce.flows.mirror import mirror_flows
from freshforce.flows.mirror_backfill import backfill
from freshforce.mapping import load_maps
from freshforce.mapping.loader import shipped_text


def quiet() -> None:
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _invoice(client_id: int, n: int) -> dict[str, Any]:
    lines = [
        {"name": name, "qty": "1", "unit_cost": {"amount": f"{10 + n % 90}.00", "code": "USD"}}
        for name in ("Design", "Build", "Support")
    ]
    return {"fields": {"customerid": client_id, "currency_code": "USD", "lines": lines}}


async def run(invoices: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "freshforce"
        config.mkdir()
        text = shipped_text("mirrors/mirror_invoices.yaml")
        (config / "mirror_invoices.yaml").write_text(text, encoding="utf-8")
        world = await open_embedded(f"sqlite+aiosqlite:///{tmp}/bench.db", config)
        made = await world.fb_admin.post(
            "/_sandbox/freshbooks/records",
            json={"resource": "clients", "records": [{"fields": {"organization": "Acme"}}]},
        )
        made.raise_for_status()
        client_id = made.json()["ids"][0]
        for start in range(0, invoices, 5000):
            batch = [_invoice(client_id, n) for n in range(start, min(invoices, start + 5000))]
            made = await world.fb_admin.post(
                "/_sandbox/freshbooks/records", json={"resource": "invoices", "records": batch}
            )
            made.raise_for_status()
        flow = mirror_flows(world.runtime, load_maps(config))["mirror_invoices"]
        pair = await world.runtime.pair("default")
        calls0 = world.runtime.counter.calls(SF_CONNECTION)
        t0 = time.monotonic()
        report = await backfill(flow, pair)
        seconds = time.monotonic() - t0
        calls = world.runtime.counter.calls(SF_CONNECTION) - calls0
        again = await backfill(flow, pair)
        calls_again = world.runtime.counter.calls(SF_CONNECTION) - calls0 - calls
        await world.aclose()
    records = invoices * 4
    return {
        "invoices": invoices,
        "records": records,
        "seconds": round(seconds, 1),
        "sf_calls": calls,
        "sf_calls_per_100_records": round(100 * calls / records, 3),
        "written": report.counts["written"],
        "failed": report.counts["failed"],
        "again_unchanged": again.counts["unchanged"],
        "again_sf_calls": calls_again,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet()
    result = asyncio.run(run(args.invoices))
    if args.json:
        print(json.dumps(result))
        return
    print(" | ".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
