"""Bootstrap frames by rows and bytes, and what a client can use of a frame cut short."""

from __future__ import annotations

import pyarrow as pa

from realm_jupyter.demo.generate import generate
from realm_jupyter.server.storage.layout import rebatch
from realm_jupyter.wire import decode_ipc, decode_ipc_prefix, encode_ipc

ORDERS = generate(12_000)["Order"]


def test_frames_hold_at_most_their_rows_and_about_their_bytes() -> None:
    # driver batches of uneven sizes, as ADBC hands them over
    driver = [ORDERS.slice(0, 700), ORDERS.slice(700, 4_000), ORDERS.slice(4_700)]
    budget = 256 * 1024
    frames = list(rebatch(driver, batch_rows=2_000, batch_bytes=budget))
    assert pa.concat_tables(frames).equals(ORDERS)  # every row once, in order
    assert all(f.num_rows <= 2_000 for f in frames)
    # bytes are estimated from each driver batch's average row: within a percent or so
    assert all(f.nbytes <= budget * 1.02 for f in frames)
    assert all(f.nbytes >= budget * 0.98 or f.num_rows == 2_000 for f in frames[:-1])
    assert [f.num_rows for f in rebatch(driver, batch_rows=5_000)] == [5_000, 5_000, 800]


def test_a_payload_cut_anywhere_yields_its_complete_record_batches() -> None:
    payload = encode_ipc(ORDERS, chunk_bytes=64 * 1024)
    assert decode_ipc(payload).equals(ORDERS)
    kept = []
    for cut in range(0, len(payload) + 1, len(payload) // 97):
        table = decode_ipc_prefix(payload[:cut])
        kept.append(-1 if table is None else table.num_rows)
        if table is not None:
            assert table.equals(ORDERS.slice(0, table.num_rows))
    assert kept == sorted(kept) and kept[0] == -1  # more arrives, more is kept
    assert len({k for k in kept if k > 0}) > 5 and max(kept) < ORDERS.num_rows
    whole = decode_ipc_prefix(payload[:-1])  # all but the end-of-stream marker
    assert whole is not None and whole.num_rows == ORDERS.num_rows
