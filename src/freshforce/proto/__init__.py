"""The Salesforce Pub/Sub API contract (``eventbus.v1``) as generated Python modules.

Neutral ground: the sandbox's gRPC server and the connector's subscriber both import it.
Regenerate with ``make proto`` after editing ``pubsub_api.proto``.
"""

from freshforce.proto import pubsub_api_pb2, pubsub_api_pb2_grpc

__all__ = ["pubsub_api_pb2", "pubsub_api_pb2_grpc"]
