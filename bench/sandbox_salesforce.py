"""Benchmark of the Salesforce sandbox: 1,000 single writes and reads of 1,000 records."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from freshforce.sandbox.salesforce.state import SalesforceState, WriteContext


def main() -> None:
    state = SalesforceState(clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    ctx = WriteContext(user_id=state.admin_user_id)
    started = time.perf_counter()
    ids = [state.create("Account", {"Name": f"Account {n}"}, ctx) for n in range(1000)]
    writes = time.perf_counter() - started
    started = time.perf_counter()
    for record_id in ids:
        state.read("Account", record_id)
    reads = time.perf_counter() - started
    print(f"{'operation':<24}{'count':>8}{'seconds':>10}")
    print(f"{'state create':<24}{len(ids):>8}{writes:>10.3f}")
    print(f"{'state read':<24}{len(ids):>8}{reads:>10.3f}")


if __name__ == "__main__":
    main()
