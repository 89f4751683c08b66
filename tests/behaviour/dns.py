"""A tiny authoritative DNS server (UDP, stdlib only) standing in for cluster DNS: it answers a
headless Service name with the A records of its pods, like CoreDNS does."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field

TYPE_A = 1
CLASS_IN = 1


def _read_name(packet: bytes, pos: int) -> tuple[str, int]:
    labels: list[str] = []
    while True:
        length = packet[pos]
        if length == 0:
            return ".".join(labels).lower(), pos + 1
        if length & 0xC0:
            raise ValueError("compressed names are not expected in questions")
        labels.append(packet[pos + 1 : pos + 1 + length].decode("ascii"))
        pos += 1 + length


def answer(query: bytes, records: dict[str, list[str]], ttl: int = 1) -> bytes:
    """The response to one DNS query: A records for known names, NXDOMAIN for unknown ones,
    an empty NOERROR answer for other types of a known name."""
    qid, flags = struct.unpack("!HH", query[:4])
    name, end = _read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[end : end + 4])
    question = query[12 : end + 4]
    addresses = records.get(name.rstrip("."))
    rcode = 0 if addresses is not None else 3
    answers = b""
    count = 0
    if addresses and qtype == TYPE_A and qclass == CLASS_IN:
        for address in addresses:
            rdata = socket.inet_aton(address)
            answers += struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, ttl, len(rdata)) + rdata
            count += 1
    rd = flags & 0x0100
    header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | rcode, 1, count, 0, 0)
    return header + question + answers


@dataclass
class DnsServer:
    """Serves `records` (name -> IPv4 addresses, changeable while running) on host:port/udp."""

    host: str = "127.0.0.1"
    records: dict[str, list[str]] = field(default_factory=dict)
    queries: int = 0
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._sock is not None, "DNS server not started"
        return int(self._sock.getsockname()[1])

    def start(self) -> DnsServer:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._sock.settimeout(0.2)
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="dns", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while self._running:
            try:
                query, peer = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = answer(query, self.records)
            except (ValueError, struct.error, IndexError):
                continue
            self.queries += 1
            self._sock.sendto(reply, peer)

    def stop(self) -> None:
        self._running = False
        if self._thread:
            self._thread.join(2)
        if self._sock:
            self._sock.close()
