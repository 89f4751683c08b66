"""Wire codec of echo.proto's two messages, written by hand (no generated code needed).

Both messages are made of proto3 string fields only, so encoding is a tag byte, a varint
length and UTF-8 bytes per non-empty field; decoding skips unknown fields of any wire type.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICE = "destate.echo.v1.Echo"
METHOD = f"/{SERVICE}/Echo"

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_strings(fields: dict[int, str]) -> bytes:
    """Encode string fields (number -> value); empty strings are left out as in proto3."""
    out = bytearray()
    for number, value in sorted(fields.items()):
        if not value:
            continue
        raw = value.encode()
        out += _varint(number << 3 | _LEN) + _varint(len(raw)) + raw
    return bytes(out)


def decode_strings(data: bytes) -> dict[int, str]:
    """Decode the length-delimited fields of a message as strings; skip everything else."""
    fields: dict[int, str] = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            _, pos = _read_varint(data, pos)
        elif wire == _I64:
            pos += 8
        elif wire == _I32:
            pos += 4
        elif wire == _LEN:
            size, pos = _read_varint(data, pos)
            fields[number] = data[pos : pos + size].decode()
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return fields


@dataclass(frozen=True)
class EchoRequest:
    message: str = ""

    def encode(self) -> bytes:
        return encode_strings({1: self.message})

    @classmethod
    def decode(cls, data: bytes) -> EchoRequest:
        return cls(message=decode_strings(data).get(1, ""))


@dataclass(frozen=True)
class EchoReply:
    message: str = ""
    instance: str = ""

    def encode(self) -> bytes:
        return encode_strings({1: self.message, 2: self.instance})

    @classmethod
    def decode(cls, data: bytes) -> EchoReply:
        fields = decode_strings(data)
        return cls(message=fields.get(1, ""), instance=fields.get(2, ""))
