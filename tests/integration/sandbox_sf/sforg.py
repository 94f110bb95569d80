"""The handles Salesforce sandbox tests work with: an org in process, an org over TLS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from freshforce.sandbox.core import SandboxRuntime
from freshforce.sandbox.salesforce.build import SalesforceSandbox

API = "/services/data/v59.0"


@dataclass
class Org:
    """A sandbox org and an authenticated client talking to it in process."""

    sandbox: SalesforceSandbox
    runtime: SandboxRuntime
    http: httpx.AsyncClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def create(self, name: str, body: dict[str, object]) -> str:
        response = await self.http.post(f"{API}/sobjects/{name}", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.http.get(f"{API}/{path}", params=params, headers=self.headers)

    async def query(self, soql: str, *, everything: bool = False) -> dict[str, object]:
        resource = "queryAll" if everything else "query"
        response = await self.get(resource, q=soql)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    async def admin_token(self, user: str | None = None) -> str:
        response = await self.http.post("/_sandbox/tokens", json={"user": user})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


@dataclass
class TlsOrg:
    """A sandbox org served over TLS on a free local port, with its CA file."""

    sandbox: SalesforceSandbox
    url: str
    ca_file: Path
    token: str
