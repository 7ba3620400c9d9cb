"""Deterministic demo data, generated a column at a time.

``realm-jupyter demo --size large`` and the benchmarks want a million realistic
orders in about a second, and notebooks, docs and tests want the *same* rows on
every machine. So every column is drawn with numpy from a generator seeded by
(seed, object type, chunk); strings are picked from small pre-rendered pools with
Arrow ``take`` or joined element-wise by Arrow compute; nothing is built per
document in Python (that alone costs ~25 s a million, BRIEF §5). Dates count back
from a fixed ``DEMO_NOW``, never the clock.

Tables come out in the wire schema (:func:`realm_jupyter.wire.arrow_schema`):
ObjectIds as 24-hex text, decimals as text, dates as ``timestamp[ms, UTC]``,
embedded objects and lists as compact JSON text — ready to store or send as is.

The first Items are a hand-written story (``STORY_ITEMS``), so that the quickstart
can point at "Alice's open login bug" at every size and seed. Data depends only on
``(size, seed)``: ``iter_tables`` cuts the same rows into batches of any length.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..server.appdir import load_app
from ..wire import arrow_schema
from . import DEMO_APP_DIR, DEMO_USERS

__all__ = ["CHUNK_ROWS", "DEMO_NOW", "SIZES", "STORY_ITEMS", "document_counts", "generate",
           "iter_tables"]

SIZES = {"tiny": 300, "small": 10_000, "large": 1_000_000}
#: Rows drawn from one random stream; fixed, so batch length never changes the data.
CHUNK_ROWS = 100_000
MAX_ITEMS = 5_000
DEMO_NOW = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
_NOW_MS = int(DEMO_NOW.timestamp() * 1000)
_DAY_MS = 86_400_000
_MAX_ROWS = 1 << 24  # the 3-byte ObjectId counter

# Random streams (also the ObjectId "machine" byte, so types never share an id).
_PROFILE, _ITEM, _ORDER, _CUSTOMER = 1, 2, 3, 4

TEAMS = ("north", "south", "east", "west")
ITEM_STATUSES, _ITEM_STATUS_P = ("open", "in_progress", "done"), (0.45, 0.25, 0.30)
_PRIORITY_P = (0.15, 0.25, 0.25, 0.20, 0.15)
TAGS = ("bug", "docs", "ux", "backend", "frontend", "mobile", "security", "customer", "infra",
        "data")
ORDER_STATUSES, _ORDER_STATUS_P = ("placed", "shipped", "delivered", "returned"), (
    0.08, 0.17, 0.67, 0.08)
CHANNELS, _CHANNEL_P = ("web", "store", "app"), (0.5, 0.3, 0.2)
_REGION_P = (0.30, 0.25, 0.25, 0.20)
_DISCOUNTS, _DISCOUNT_P = np.array([0.0, 0.05, 0.10, 0.15, 0.20, 0.25]), (
    0.60, 0.12, 0.12, 0.08, 0.05, 0.03)

_ALICE, _BOB, _CAROL = (user.id for user in DEMO_USERS)
#: Colleagues who own items but cannot log in: they make the team rule visible.
COLLEAGUE_IDS = tuple(f"665000000000c0ffee{i:06x}" for i in range(1, 10))
_OWNERS = (_ALICE, _BOB, _CAROL, *COLLEAGUE_IDS)
_OWNER_P = (0.15, 0.15, 0.10, *(0.60 / len(COLLEAGUE_IDS),) * len(COLLEAGUE_IDS))

SUMMARIES = (
    "Fix login timeout", "Update onboarding docs", "Review pull request backlog",
    "Investigate slow dashboard load", "Add CSV export to reports", "Fix typo on pricing page",
    "Upgrade Postgres to 16", "Write release notes", "Reduce Docker image size",
    "Triage new bug reports", "Add retry to payment webhook", "Clean up unused feature flags",
    "Improve search relevance", "Translate settings page", "Fix timezone bug in reminders",
    "Prepare customer demo", "Document API rate limits", "Migrate cron jobs to scheduler",
    "Rotate TLS certificates", "Add unit tests for sync client", "Fix crash on empty cart",
    "Design new onboarding email", "Set up staging alerts", "Profile memory usage",
    "Update privacy policy link", "Refactor auth middleware", "Archive old projects",
    "Fix dark mode contrast", "Add keyboard shortcuts", "Review access logs",
    "Plan sprint retrospective", "Benchmark import pipeline", "Fix pagination off-by-one",
    "Follow up with support ticket", "Update dependency versions", "Add health check endpoint",
    "Fix broken links in docs", "Tune database indexes", "Sketch mobile settings screen",
    "Schedule security review", "Add audit log for admin actions", "Fix flaky CI job",
)
_FIRST_NAMES = ("Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jonas",
                "Kai", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
                "Uma", "Victor", "Wen", "Yara", "Zoe", "Liam", "Maya", "Noah", "Olga", "Pablo")
_LAST_NAMES = ("Silva", "Smith", "Müller", "Rossi", "Kowalski", "Nguyen", "García", "Johansson",
               "Dubois", "Tanaka", "Okafor", "Novak", "Schmidt", "Costa", "Larsen", "Patel",
               "Kim", "Murphy", "Ivanova", "Haddad", "Moreau", "Fischer", "Lopez", "Berg")
_CITIES = (("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Madrid", "Spain"),
           ("Seville", "Spain"), ("Lyon", "France"), ("Paris", "France"), ("Berlin", "Germany"),
           ("Hamburg", "Germany"), ("Milan", "Italy"), ("Turin", "Italy"),
           ("Oslo", "Norway"), ("Stockholm", "Sweden"), ("Copenhagen", "Denmark"),
           ("Helsinki", "Finland"), ("Warsaw", "Poland"), ("Prague", "Czechia"),
           ("Vienna", "Austria"), ("Zurich", "Switzerland"), ("Dublin", "Ireland"),
           ("Leeds", "United Kingdom"), ("Boston", "United States"),
           ("Austin", "United States"), ("Toronto", "Canada"), ("Montreal", "Canada"))
_CUSTOMER_POOL = 4_096
_SKU_POOL = 2_000


class StoryItem(NamedTuple):
    """One hand-written Item: who owns it, where it is, and how urgent."""

    owner_id: str
    team: str
    summary: str
    status: str
    priority: int
    tags: tuple[str, ...]
    hours_ago: int


#: Alice (north) owns some items and sees north items of Bob, Carol and Dana through
#: the team rule; Bob (south) likewise; Carol (admin) sees everything.
STORY_ITEMS = (
    StoryItem(_ALICE, "north", "Fix login timeout", "open", 4, ("bug", "backend"), 3),
    StoryItem(_ALICE, "north", "Update onboarding docs", "in_progress", 2, ("docs",), 20),
    StoryItem(_ALICE, "east", "Review Q3 roadmap draft", "open", 3, (), 30),
    StoryItem(_BOB, "south", "Migrate billing export to Parquet", "open", 5,
              ("backend", "data"), 5),
    StoryItem(_BOB, "north", "Triage crash reports from v2.3", "open", 3, ("bug", "mobile"), 8),
    StoryItem(_BOB, "south", "Rotate staging API keys", "done", 4, ("security",), 50),
    StoryItem(_CAROL, "north", "Plan north team offsite", "open", 3, (), 12),
    StoryItem(_CAROL, "west", "Audit admin permissions", "in_progress", 5, ("security",), 26),
    StoryItem(COLLEAGUE_IDS[0], "north", "Fix flaky sync test", "open", 4, ("bug", "infra"), 2),
    StoryItem(COLLEAGUE_IDS[1], "south", "Reply to customer escalation #4521", "open", 5,
              ("customer",), 6),
    StoryItem(COLLEAGUE_IDS[2], "east", "Refresh dashboard screenshots", "done", 1,
              ("docs", "ux"), 70),
    StoryItem(COLLEAGUE_IDS[3], "west", "Add dark mode to settings page", "in_progress", 2,
              ("ux", "frontend"), 40),
)


def document_counts(size: str | int) -> dict[str, int]:
    """Rows per object type: Items ≈ 10 % (at most 5,000), the rest Orders, one profile a user.

    Raises:
        ValueError: an unknown size name, a negative count, or more than 2**24 rows.
    """
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"unknown demo size {size!r} (choose from {', '.join(SIZES)})")
        total = SIZES[size]
    else:
        total = size
    if not 0 <= total < _MAX_ROWS:
        raise ValueError(f"demo size must be between 0 and {_MAX_ROWS - 1:,} documents")
    items = min(max(total // 10, min(total, len(STORY_ITEMS))), MAX_ITEMS)
    return {"UserProfile": len(DEMO_USERS), "Item": items, "Order": total - items}


def generate(size: str | int, seed: int = 7) -> dict[str, pa.Table]:
    """The whole demo data set: one wire-schema table per object type.

    Same ``(size, seed)`` → identical tables, byte for byte.
    """
    parts: dict[str, list[pa.Table]] = {name: [] for name in _wire_schemas()}
    for name, table in iter_tables(size, seed):
        parts[name].append(table)
    return {name: pa.concat_tables(tables) if tables else _wire_schemas()[name].empty_table()
            for name, tables in parts.items()}


def iter_tables(size: str | int, seed: int = 7, batch_rows: int = CHUNK_ROWS
                ) -> Iterator[tuple[str, pa.Table]]:
    """``(object type, table)`` pairs of at most ``batch_rows`` rows, for streaming big sizes.

    The rows are those of :func:`generate`, in the same order, whatever ``batch_rows``.
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    counts = document_counts(size)
    schemas = _wire_schemas()
    yield "UserProfile", _profiles(schemas["UserProfile"], seed)
    if counts["Item"]:
        yield from _batches("Item", _items(schemas["Item"], seed, counts["Item"]), batch_rows)
    customers = _customer_pool(seed)
    skus = pa.array([f"SKU-{i:05d}" for i in range(1, _SKU_POOL + 1)])
    for start in range(0, counts["Order"], CHUNK_ROWS):
        rows = min(CHUNK_ROWS, counts["Order"] - start)
        table = _orders(schemas["Order"], seed, start, rows, customers, skus)
        yield from _batches("Order", table, batch_rows)


# --------------------------------------------------------------------------- object types


def _profiles(schema: pa.Schema, seed: int) -> pa.Table:
    n = len(DEMO_USERS)
    return _table(schema, {
        "_id": _object_ids(np.full(n, _NOW_MS // 1000 - 365 * 86_400), _PROFILE, seed, 0),
        "user_id": [user.id for user in DEMO_USERS],
        "name": [user.name for user in DEMO_USERS],
        "role": [user.role for user in DEMO_USERS],
        "teams": [orjson.dumps(list(user.teams)).decode() for user in DEMO_USERS],
    })


def _items(schema: pa.Schema, seed: int, n: int) -> pa.Table:
    story = STORY_ITEMS[:n]
    m = n - len(story)
    rng = _rng(seed, _ITEM, 0)
    owner = rng.choice(len(_OWNERS), m, p=_OWNER_P)
    team = rng.integers(0, len(TEAMS), m)
    status = rng.choice(len(ITEM_STATUSES), m, p=_ITEM_STATUS_P)
    priority = rng.choice(len(_PRIORITY_P), m, p=_PRIORITY_P) + 1
    summary = rng.integers(0, len(SUMMARIES), m)
    tag_count = rng.choice(4, m, p=(0.2, 0.4, 0.3, 0.1))
    tag_order = np.argsort(rng.random((m, len(TAGS))), axis=1)
    age_ms = rng.integers(3_600_000, 120 * _DAY_MS, m)

    statuses = [s.status for s in story] + [ITEM_STATUSES[i] for i in status.tolist()]
    tags = [list(s.tags) for s in story] + [
        [TAGS[t] for t in row[:k]] for row, k in zip(tag_order.tolist(), tag_count.tolist(),
                                                      strict=True)]
    created_ms = np.concatenate([
        _NOW_MS - np.array([s.hours_ago for s in story], dtype=np.int64) * 3_600_000,
        _NOW_MS - age_ms])
    return _table(schema, {
        "_id": _object_ids(created_ms // 1000, _ITEM, seed, 0),
        "owner_id": [s.owner_id for s in story] + [_OWNERS[i] for i in owner.tolist()],
        "summary": [s.summary for s in story] + [SUMMARIES[i] for i in summary.tolist()],
        "isComplete": [s == "done" for s in statuses],
        "status": statuses,
        "priority": [s.priority for s in story] + priority.tolist(),
        "team": [s.team for s in story] + [TEAMS[i] for i in team.tolist()],
        "tags": [orjson.dumps(t).decode() for t in tags],
        "created_at": _timestamps(created_ms),
    })


def _orders(schema: pa.Schema, seed: int, start: int, n: int, customers: pa.Array,
            skus: pa.Array) -> pa.Table:
    rng = _rng(seed, _ORDER, start // CHUNK_ROWS)
    region = rng.choice(len(TEAMS), n, p=_REGION_P)
    store_id = (region + 1) * 100 + rng.integers(1, 13, n)  # 12 stores a region: 101…412
    quantity = np.minimum(rng.geometric(0.45, n), 12)
    discount = _DISCOUNTS[rng.choice(len(_DISCOUNTS), n, p=_DISCOUNT_P)]
    unit_cents = np.round(np.exp(rng.normal(3.0, 0.8, n)) * 100)
    amount_cents = np.maximum(np.round(unit_cents * quantity * (1 - discount)), 1).astype(np.int64)
    ordered_ms = _NOW_MS - rng.integers(0, 730 * _DAY_MS, n)
    return _table(schema, {
        "_id": _object_ids(ordered_ms // 1000, _ORDER, seed, start),
        "region": _pick(TEAMS, region),
        "store_id": store_id,
        "status": _pick(ORDER_STATUSES, rng.choice(len(ORDER_STATUSES), n, p=_ORDER_STATUS_P)),
        "channel": _pick(CHANNELS, rng.choice(len(CHANNELS), n, p=_CHANNEL_P)),
        "amount": _decimal_text(amount_cents),
        "quantity": quantity,
        "discount": discount,
        "is_gift": rng.random(n) < 0.07,
        "ordered_at": _timestamps(ordered_ms),
        "customer": customers.take(pa.array(rng.integers(0, len(customers), n))),
        "skus": _sku_lists(rng, skus, np.minimum(quantity, 4)),
    })


def _customer_pool(seed: int) -> pa.Array:
    """A few thousand pre-rendered customer JSON objects that orders pick from."""
    rng = _rng(seed, _CUSTOMER, 0)
    first = rng.integers(0, len(_FIRST_NAMES), _CUSTOMER_POOL).tolist()
    last = rng.integers(0, len(_LAST_NAMES), _CUSTOMER_POOL).tolist()
    place = rng.integers(0, len(_CITIES), _CUSTOMER_POOL).tolist()
    return pa.array([
        orjson.dumps({"name": f"{_FIRST_NAMES[f]} {_LAST_NAMES[la]}", "city": _CITIES[p][0],
                      "country": _CITIES[p][1]}).decode()
        for f, la, p in zip(first, last, place, strict=True)], pa.string())


def _sku_lists(rng: np.random.Generator, skus: pa.Array, counts: npt.NDArray[np.int64]
               ) -> pa.Array:
    """JSON arrays of 1–4 SKUs, joined element-wise by Arrow (absent slots are nulls, skipped)."""
    n = len(counts)
    columns = []
    for slot in range(int(counts.max(initial=1))):
        picked = skus.take(pa.array(rng.integers(0, len(skus), n)))
        columns.append(pc.if_else(pa.array(counts > slot), picked, pa.scalar(None, pa.string())))
    inner = pc.binary_join_element_wise(*columns, '","', null_handling="skip")
    return pc.binary_join_element_wise('["', inner, '"]', "")


# --------------------------------------------------------------------------- columns

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex(values: npt.NDArray[Any], width: int) -> npt.NDArray[np.uint8]:
    """Fixed-width lowercase hex digits of each value, as an (n, width) array of ASCII bytes."""
    shifts = (4 * np.arange(width - 1, -1, -1)).astype(np.uint64)
    digits: npt.NDArray[np.uint8] = _HEX[(values.astype(np.uint64)[:, None] >> shifts) & 0xF]
    return digits


def _object_ids(seconds: npt.NDArray[Any], stream: int, seed: int, first: int) -> pa.Array:
    """ObjectId hex text: creation time, a per-(type, seed) "machine" part, a row counter.

    Built as one byte matrix handed to Arrow as a string buffer: no Python string per row.
    """
    n = len(seconds)
    chars = np.empty((n, 24), dtype=np.uint8)
    chars[:, :8] = _hex(seconds, 8)
    chars[:, 8:18] = _hex(np.array([(stream << 32) | (seed & 0xFFFF_FFFF)]), 10)
    chars[:, 18:] = _hex(np.arange(first, first + n), 6)
    offsets = np.arange(0, 24 * (n + 1), 24, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars))


def _decimal_text(cents: npt.NDArray[np.int64]) -> pa.Array:
    """Exact decimal text such as ``"123.45"`` from integer cents."""
    whole = pc.cast(pa.array(cents // 100), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(whole, fraction, ".")


def _timestamps(ms: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(ms, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


def _pick(pool: Sequence[str], indices: npt.NDArray[Any]) -> pa.Array:
    return pa.array(pool, pa.string()).take(pa.array(indices))


def _table(schema: pa.Schema, columns: dict[str, Any]) -> pa.Table:
    arrays = [column if isinstance(column, pa.Array) else pa.array(column, field.type)
              for field, column in ((f, columns[f.name]) for f in schema)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _batches(name: str, table: pa.Table, batch_rows: int) -> Iterator[tuple[str, pa.Table]]:
    for offset in range(0, table.num_rows, batch_rows):
        yield name, table.slice(offset, batch_rows)


def _rng(seed: int, stream: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, chunk])


@lru_cache(maxsize=1)
def _wire_schemas() -> dict[str, pa.Schema]:
    """The demo app's object types in the wire schema: the app directory is their one source."""
    return {name: arrow_schema(object_schema)
            for name, object_schema in load_app(DEMO_APP_DIR).schema.types.items()}
