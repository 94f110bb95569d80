"""One httpx transport in front of several in-process apps, chosen by the request's host.

A freshforce runtime takes one transport for all its remote calls; tests and the embedded demo
route ``fb.test`` to the FreshBooks sandbox and the Salesforce instance host to the Salesforce
sandbox through this, over ASGI, with no sockets.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["HostRouter"]


class HostRouter(httpx.AsyncBaseTransport):
    """Send each request to the transport of its host; an unknown host is an error."""

    def __init__(self, routes: Mapping[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = dict(routes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.routes.get(request.url.host)
        if transport is None:
            known = ", ".join(sorted(self.routes))
            msg = f"no sandbox answers for host {request.url.host!r} (known: {known})"
            raise httpx.ConnectError(msg, request=request)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self.routes.values():
            await transport.aclose()
