"""simple-salesforce's unmodified Bulk 2.0 client against the sandbox over TLS."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce

from freshforce.sandbox.core.server import SandboxServer
from freshforce.sandbox.core.tls import generate_certificate
from freshforce.sandbox.salesforce.build import SalesforceSandbox, build_salesforce_sandbox


@pytest.fixture
def sandbox() -> SalesforceSandbox:
    return build_salesforce_sandbox()


@pytest.fixture
def sf(sandbox: SalesforceSandbox, tmp_path: Path) -> Iterator[Salesforce]:
    tls = generate_certificate(tmp_path)
    server = SandboxServer(sandbox.app, tls=tls)
    server.start_in_thread()
    session = requests.Session()
    session.verify = str(tls.cert)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise win over session.verify
    token = sandbox.sessions.mint(sandbox.state.admin_user_id).access_token
    try:
        yield Salesforce(instance_url=server.url, session_id=token, session=session)
    finally:
        session.close()
        server.stop()


def test_bulk2_insert_failures_and_query(sf: Salesforce, sandbox: SalesforceSandbox) -> None:
    records = [{"Name": f"Bulk {i}", "Industry": "Retail"} for i in range(25)]
    records.append({"Name": "", "Industry": "Retail"})
    results = sf.bulk2.Account.insert(records=records, wait=0.05)
    assert results[0]["numberRecordsProcessed"] == 26
    assert results[0]["numberRecordsFailed"] == 1
    failed = sf.bulk2.Account.get_failed_records(results[0]["job_id"])
    assert "REQUIRED_FIELD_MISSING" in failed
    assert sandbox.state.count("Account") == 25

    pages = list(
        sf.bulk2.Account.query(
            "SELECT Id, Name FROM Account WHERE Industry = 'Retail' ORDER BY Name",
            max_records=10,
            wait=0.05,
        )
    )
    assert len(pages) == 3
    names = [row["Name"] for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert names == sorted(f"Bulk {i}" for i in range(25))
