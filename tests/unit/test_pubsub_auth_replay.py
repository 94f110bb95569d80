"""Pub/Sub auth metadata and replay starts, without a server."""

from __future__ import annotations

import grpc
import pytest

from freshforce.proto import pubsub_api_pb2 as pb
from freshforce.sandbox.salesforce.pubsub.auth import authenticate
from freshforce.sandbox.salesforce.pubsub.faults import PubSubFault
from freshforce.sandbox.salesforce.pubsub.replay import encode_replay_id, start_after

ORG = "00D000000000001EAA"
TOKENS = {"tok": ORG}.get


def test_metadata_keys_match_case_insensitively() -> None:
    caller = authenticate(
        [
            ("accessToken", "tok"),
            ("instanceUrl", b"https://x.my.salesforce.com"),
            ("tenantId", ORG),
        ],
        TOKENS,
    )
    assert caller.org_id == ORG
    assert caller.instance_url == "https://x.my.salesforce.com"


def test_tenant_must_be_the_tokens_org_fifteen_or_eighteen_characters() -> None:
    meta = [("accesstoken", "tok"), ("instanceurl", "https://x")]
    assert authenticate([*meta, ("tenantid", ORG[:15])], TOKENS).org_id == ORG
    with pytest.raises(PubSubFault) as caught:
        authenticate([*meta, ("tenantid", "00D000000000002EAA")], TOKENS)
    assert caught.value.status == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.error_code == "sfdc.platform.eventbus.grpc.service.auth.error"


def test_start_positions() -> None:
    assert start_after(pb.LATEST, b"", oldest=3, latest=9) == 9
    assert start_after(pb.EARLIEST, b"", oldest=3, latest=9) == 2
    assert start_after(pb.EARLIEST, b"", oldest=None, latest=9) == 9
    assert start_after(pb.CUSTOM, encode_replay_id(2), oldest=3, latest=9) == 2
    assert start_after(pb.CUSTOM, encode_replay_id(9), oldest=None, latest=9) == 9
    for replay_id, oldest in ((1, 3), (8, None), (10, 3)):
        with pytest.raises(PubSubFault, match="replay id"):
            start_after(pb.CUSTOM, encode_replay_id(replay_id), oldest=oldest, latest=9)
