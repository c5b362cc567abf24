"""Read a Foxglove MCAP back with the ``mcap`` reader and decode each protobuf message with the
schema stored in the file (``google.protobuf``), independently of the writer's code."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader


def read_messages(path: Path) -> dict[str, list[tuple[int, object]]]:
    """topic -> [(log_time ns, decoded message)] in file order; protobuf messages as protobuf
    objects, JSON messages as dicts."""
    classes: dict[int, type] = {}
    out: dict[str, list[tuple[int, object]]] = defaultdict(list)
    with open(path, "rb") as f:
        for schema, channel, message in make_reader(f).iter_messages(log_time_order=False):
            if channel.message_encoding == "json":
                out[channel.topic].append((message.log_time, json.loads(message.data)))
                continue
            assert channel.message_encoding == "protobuf" and schema.encoding == "protobuf"
            if schema.id not in classes:
                pool = descriptor_pool.DescriptorPool()
                for file in descriptor_pb2.FileDescriptorSet.FromString(schema.data).file:
                    pool.Add(file)
                classes[schema.id] = message_factory.GetMessageClass(pool.FindMessageTypeByName(schema.name))
            out[channel.topic].append((message.log_time, classes[schema.id].FromString(message.data)))
    return dict(out)
