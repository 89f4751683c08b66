"""examples/grpc-echo encodes echo.proto by hand: its bytes must be what protobuf itself
reads and writes for the messages declared in echo.proto (checked with protobuf's runtime,
which grpcio-health-checking brings along)."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from .echo import ECHO, echo_client


@pytest.fixture(scope="module")
def codec() -> ModuleType:
    echo_client()  # skips (fails in CI) without grpcio; puts examples/grpc-echo on sys.path
    import echo_proto

    return echo_proto


def _messages() -> dict[str, type]:
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    proto = (ECHO / "echo.proto").read_text()
    file = descriptor_pb2.FileDescriptorProto(
        name="echo.proto", package="destate.echo.v1", syntax="proto3"
    )
    for name, body in re.findall(r"message (\w+) \{(.*?)\}", proto, re.S):
        message = file.message_type.add(name=name)
        for field, number in re.findall(r"string (\w+) = (\d+);", body):
            message.field.add(
                name=field,
                number=int(number),
                type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
            )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"destate.echo.v1.{name}"))
        for name in ("EchoRequest", "EchoReply")
    }


@pytest.mark.parametrize("message", ["", "hello", "ünïcode ✓", "x" * 300])
def test_hand_codec_matches_protobuf(codec: ModuleType, message: str) -> None:
    real = _messages()
    reply = codec.EchoReply(message=message, instance="demo-grpc-1")
    parsed = real["EchoReply"].FromString(reply.encode())
    assert (parsed.message, parsed.instance) == (message, "demo-grpc-1")
    wire = real["EchoReply"](message=message, instance="pod-0").SerializeToString()
    assert codec.EchoReply.decode(wire) == codec.EchoReply(message=message, instance="pod-0")
    request = real["EchoRequest"](message=message).SerializeToString()
    assert codec.EchoRequest(message=message).encode() == request
    assert codec.EchoRequest.decode(request).message == message


def test_unknown_fields_are_skipped(codec: ModuleType) -> None:
    # field 3 varint, field 4 fixed64, field 5 fixed32, then field 2 (instance)
    extra = b"\x18\x96\x01" + b"\x21" + b"\0" * 8 + b"\x2d" + b"\0" * 4
    data = extra + codec.EchoReply(instance="pod-2").encode()
    assert codec.EchoReply.decode(data).instance == "pod-2"
    with pytest.raises(ValueError, match="truncated varint"):
        codec.EchoReply.decode(b"\x12\x80")
