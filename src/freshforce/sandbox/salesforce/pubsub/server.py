"""Build and run the Pub/Sub gRPC server on a host and port (port 0 picks a free one)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from freshforce.proto import pubsub_api_pb2_grpc as pb_grpc

__all__ = ["PubSubServer", "start_pubsub_server"]


@dataclass(frozen=True)
class PubSubServer:
    """A running server: its address, and how to stop it."""

    server: grpc.aio.Server
    host: str
    port: int

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float | None = None) -> None:
        await self.server.stop(grace)


async def start_pubsub_server(
    service: pb_grpc.PubSubServicer,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: tuple[bytes, bytes] | None = None,
) -> PubSubServer:
    """Serve ``service``; ``tls`` is (private key PEM, certificate chain PEM) for a TLS port."""
    server = grpc.aio.server()
    pb_grpc.add_PubSubServicer_to_server(service, server)  # type: ignore[no-untyped-call] # generated
    address = f"{host}:{port}"
    if tls is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([tls]))
    await server.start()
    return PubSubServer(server=server, host=host, port=bound)
