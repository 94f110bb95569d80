"""docs/sandbox.md lists exactly the endpoints the FreshBooks sandbox serves."""

from __future__ import annotations

import os
from pathlib import Path

from freshforce.sandbox.core.endpoints import endpoint_table, replace_between
from freshforce.sandbox.freshbooks import FreshBooksOptions, build_freshbooks

DOC = Path(__file__).parents[3] / "docs" / "sandbox.md"


def test_endpoint_table_matches_the_routes() -> None:
    table = endpoint_table(build_freshbooks(FreshBooksOptions()).app)
    current = DOC.read_text()
    wanted = replace_between(current, "endpoints:freshbooks", table)
    if os.environ.get("FRESHFORCE_UPDATE_DOCS") == "1":
        DOC.write_text(wanted)
    assert current == wanted, "docs/sandbox.md is stale: rerun with FRESHFORCE_UPDATE_DOCS=1"
    assert "| GET | `/auth/api/v1/users/me` |" in table
    assert "| POST | `/_sandbox/faults` |" in table
