"""docs/sandbox-salesforce.md lists exactly the routes the Salesforce sandbox serves."""

from __future__ import annotations

import os
from pathlib import Path

from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.core.endpoints import endpoint_table, replace_between
from freshforce.sandbox.salesforce import build_salesforce_sandbox

DOC = Path(__file__).parents[3] / "docs" / "sandbox-salesforce.md"


def test_endpoint_table_matches_the_routes() -> None:
    table = endpoint_table(build_salesforce_sandbox(SandboxRuntime.create()).app)
    current = DOC.read_text()
    wanted = replace_between(current, "endpoints:salesforce", table)
    if os.environ.get("FRESHFORCE_UPDATE_DOCS") == "1":
        DOC.write_text(wanted)
    assert current == wanted, (
        "docs/sandbox-salesforce.md is stale: rerun with FRESHFORCE_UPDATE_DOCS=1"
    )
    assert (
        "| PATCH | `/services/data/v{version}/sobjects/{name}/{field}/{value}` | upsert |" in table
    )
    assert "| POST | `/_sandbox/salesforce/fields` |" in table
