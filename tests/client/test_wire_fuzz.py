"""The client's frame decoder against whatever bytes a peer or a broken network sends.

A stream is split into frames by ``read_frames`` and Arrow payloads are read by
``decode_ipc``. Whatever arrives, in whatever chunks, the decoder either yields
frames or raises ``ProtocolError`` — never another exception, never a hang —
and well-formed streams decode to exactly what was encoded, however they are cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realm_jupyter.client.transport import Frame, read_frames
from realm_jupyter.errors import ProtocolError
from realm_jupyter.wire import decode_ipc, encode_frame, encode_ipc

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
headers = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "payload"),
                          json_scalars, max_size=4).map(lambda h: {"t": "changes", **h})
frames = st.lists(st.tuples(headers, st.none() | st.binary(max_size=64)), max_size=6)


async def _chunks(data: bytes, cuts: list[int]) -> AsyncIterator[bytes]:
    start = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}):
        yield data[start:cut]
        start = cut
    yield data[start:]


def _decode(data: bytes, cuts: list[int]) -> list[Frame]:
    async def collect() -> list[Frame]:
        return [frame async for frame in read_frames(_chunks(data, cuts))]

    return asyncio.run(collect())


@FUZZ
@given(frames, st.lists(st.integers(0, 10_000), max_size=8))
def test_encoded_frames_decode_identically_however_the_stream_is_cut(
        sent: list[tuple[dict[str, Any], bytes | None]], cuts: list[int]) -> None:
    data = b"".join(encode_frame(header, payload) for header, payload in sent)
    received = _decode(data, cuts)
    assert [(h, p) for h, p in received] == [
        ({**h, "payload": len(p)} if p is not None else h, p or None) for h, p in sent]


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 400), max_size=6))
def test_arbitrary_bytes_give_frames_or_a_protocol_error(data: bytes, cuts: list[int]) -> None:
    with contextlib.suppress(ProtocolError):
        _decode(data, cuts)


@FUZZ
@given(st.sampled_from([b'{"t": "x", "payload": -5}\n', b'{"t": "x", "payload": "many"}\n',
                        b'{"t": "x", "payload": 1.5}\n', b'{"t": "x", "payload": true}\n',
                        b'{"t": "x", "payload": null}\n', b'{"t": "x", "payload": [1]}\n',
                        b'["t"]\n', b'{"t": "x"}']), st.binary(max_size=16))
def test_malformed_payload_announcements_are_protocol_errors(header: bytes, tail: bytes) -> None:
    try:
        received = _decode(header + tail, [])
    except ProtocolError:
        return
    # the only acceptable success is a frame without a payload, or nothing at all
    assert all(payload is None for _, payload in received)


def _ipc() -> bytes:
    return encode_ipc(pa.table({"_id": ["a", "b"], "n": [1, None]}))


@FUZZ
@given(st.data())
def test_corrupted_arrow_payloads_are_protocol_errors(data: st.DataObject) -> None:
    payload = bytearray(_ipc())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(payload)))
    with contextlib.suppress(ProtocolError):
        decode_ipc(bytes(payload[:cut]))


def test_an_arrow_payload_with_an_impossible_type_is_a_protocol_error() -> None:
    payload = bytearray(_ipc())
    payload[96] = 0  # found by the test above: "Integers with less than 8 bits not implemented"
    with contextlib.suppress(ProtocolError):
        decode_ipc(bytes(payload[:176]))


def test_arrow_payload_round_trip() -> None:
    table = decode_ipc(_ipc())
    assert table.to_pylist() == [{"_id": "a", "n": 1}, {"_id": "b", "n": None}]
