"""The Pub/Sub packages' public names, pinned."""

from __future__ import annotations

import freshforce.proto
import freshforce.sandbox.salesforce.pubsub


def test_pubsub_package_exports() -> None:
    assert sorted(freshforce.sandbox.salesforce.pubsub.__all__) == [
        "PubSubControls",
        "PubSubRunner",
        "PubSubServer",
        "PubSubService",
        "TokenCheck",
        "TopicRegistry",
        "attach_pubsub",
        "emit_gap",
        "pubsub_admin_router",
        "start_pubsub_server",
    ]
    for name in freshforce.sandbox.salesforce.pubsub.__all__:
        assert getattr(freshforce.sandbox.salesforce.pubsub, name) is not None


def test_proto_package_exports_the_generated_modules() -> None:
    assert freshforce.proto.__all__ == ["pubsub_api_pb2", "pubsub_api_pb2_grpc"]
    service = freshforce.proto.pubsub_api_pb2.DESCRIPTOR.services_by_name["PubSub"]
    assert service.full_name == "eventbus.v1.PubSub"
    assert sorted(m.name for m in service.methods) == [
        "GetSchema",
        "GetTopic",
        "Publish",
        "PublishStream",
        "Subscribe",
    ]
    fetch = freshforce.proto.pubsub_api_pb2.FetchRequest.DESCRIPTOR
    assert {f.name: f.number for f in fetch.fields} == {
        "topic_name": 1,
        "replay_preset": 2,
        "replay_id": 3,
        "num_requested": 4,
        "auth_refresh": 5,
    }
