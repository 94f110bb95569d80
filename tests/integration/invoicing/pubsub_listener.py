"""A Pub/Sub API subscriber built only from the proto file, as any Salesforce customer builds one.

Run as a separate process (its generated classes would clash with freshforce's in one process):
``python pubsub_listener.py PROTO TARGET TOKEN ORG TOPIC``. It compiles PROTO with grpc_tools,
subscribes TOPIC from EARLIEST, reads until the server's first keepalive (every retained event
has arrived by then), and prints each event's decoded fields as one JSON line.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import tempfile
from pathlib import Path

import fastavro
import grpc
from grpc_tools import protoc


def _generate(proto: Path, into: Path) -> None:
    code = protoc.main(
        [
            "protoc",
            f"-I{proto.parent}",
            f"--python_out={into}",
            f"--grpc_python_out={into}",
            str(proto),
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed on {proto}")
    sys.path.insert(0, str(into))


def main(proto: str, target: str, token: str, org: str, topic: str) -> None:
    with tempfile.TemporaryDirectory() as generated:
        _generate(Path(proto), Path(generated))
        pb = importlib.import_module("pubsub_api_pb2")
        pb_grpc = importlib.import_module("pubsub_api_pb2_grpc")
        metadata = (("accesstoken", token), ("instanceurl", "https://x"), ("tenantid", org))
        with grpc.insecure_channel(target) as channel:
            stub = pb_grpc.PubSubStub(channel)
            first = pb.FetchRequest(topic_name=topic, replay_preset=pb.EARLIEST, num_requested=50)
            schemas: dict[str, object] = {}
            for response in stub.Subscribe(iter([first]), metadata=metadata):
                if not response.events:
                    return  # a keepalive: nothing more is retained
                for item in response.events:
                    schema_id = item.event.schema_id
                    if schema_id not in schemas:
                        info = stub.GetSchema(
                            pb.SchemaRequest(schema_id=schema_id), metadata=metadata
                        )
                        schemas[schema_id] = fastavro.parse_schema(json.loads(info.schema_json))
                    record = fastavro.schemaless_reader(
                        io.BytesIO(item.event.payload), schemas[schema_id], None
                    )
                    print(json.dumps(record, default=str), flush=True)  # noqa: T201 - the output


if __name__ == "__main__":
    main(*sys.argv[1:6])
