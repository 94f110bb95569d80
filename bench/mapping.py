"""Records mapped per second with the default clients map, with and without an expression."""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from freshforce.mapping import Direction, FlowMap, load_maps

RECORDS = 20_000
CHUNK = 1_000
EXPRESSION_RULE = """
  - salesforce: Account.Industry
    direction: to_salesforce
    expression: '$uppercase(organization) & " / " & $substringAfter(email, "@")'
"""


def clients(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    provinces = [("ON", "Canada"), ("Quebec", "CA"), ("NY", "United States"), ("", "")]
    records = []
    for n in range(count):
        province, country = rng.choice(provinces)
        records.append(
            {
                "id": 10_000 + n,
                "organization": rng.choice([f" Company {n} Ltd ", ""]),
                "fname": f"First{n}",
                "lname": f"Last{n}",
                "email": f" Person{n}@Example.COM ",
                "bus_phone": f"555-{n:04d}",
                "mob_phone": None,
                "p_street": f"{n} Main St",
                "p_street2": rng.choice(["", "Suite 2"]),
                "p_city": "Toronto",
                "p_code": "m5v 1a1",
                "p_province": province,
                "p_country": country,
                "note": rng.choice([None, "Net 30"]),
            }
        )
    return records


def measure(
    step: Callable[[Mapping[str, Any]], object], records: Sequence[Mapping[str, Any]]
) -> tuple[float, float, float, float]:
    """Return (seconds, CPU seconds, p50 and p95 µs/record over chunks of CHUNK records)."""
    per_chunk = []
    cpu = time.process_time()
    started = time.perf_counter()
    for offset in range(0, len(records), CHUNK):
        chunk_start = time.perf_counter()
        for record in records[offset : offset + CHUNK]:
            step(record)
        per_chunk.append((time.perf_counter() - chunk_start) / CHUNK * 1e6)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    quantiles = statistics.quantiles(per_chunk, n=20)
    return seconds, cpu, statistics.median(per_chunk), quantiles[18]


def with_expression() -> FlowMap:
    shipped = resources.files("freshforce.mapping") / "defaults" / "clients.yaml"
    text = shipped.read_text(encoding="utf-8").replace("\nfields:\n", "\nfields:" + EXPRESSION_RULE)
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "clients.yaml").write_text(text, encoding="utf-8")
        return load_maps(Path(directory))["clients"]


def main() -> None:
    started = time.perf_counter()
    plain = load_maps(None)["clients"]
    load_ms = (time.perf_counter() - started) * 1e3
    expression = with_expression()
    records = clients(RECORDS)
    accounts = [plain.apply(record, Direction.TO_SALESFORCE).by_object() for record in records]
    cases = [
        ("clients -> Salesforce (default map)", plain, records, Direction.TO_SALESFORCE),
        (
            "clients -> Salesforce, + 1 expression rule",
            expression,
            records,
            Direction.TO_SALESFORCE,
        ),
        ("Account+Contact -> FreshBooks (default map)", plain, accounts, Direction.TO_FRESHBOOKS),
    ]
    print(f"load + compile of the three shipped maps: {load_ms:.0f} ms")
    print("| case | records | rules | seconds | records/s | records/CPU s | p50 µs | p95 µs |")
    print("|---|---|---|---|---|---|---|---|")
    for name, flow, batch, direction in cases:
        for record in batch[:CHUNK]:  # warm up: ISO 3166 tables and caches load once
            flow.apply(record, direction)
        seconds, cpu, p50, p95 = measure(lambda r, f=flow, d=direction: f.apply(r, d), batch)
        rules = sum(1 for rule in flow.rules if direction in rule.chains)
        print(
            f"| {name} | {len(batch):,} | {rules} | {seconds:.3f} | {len(batch) / seconds:,.0f} "
            f"| {len(batch) / cpu:,.0f} | {p50:.1f} | {p95:.1f} |"
        )


if __name__ == "__main__":
    main()
