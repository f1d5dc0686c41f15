"""Hypothesis strategies for values at and past the limits of the formats the API reads: durations,
timestamps, ids, texts with NUL and other control characters, numbers, deep JSON. Shared by the property
tests and the schema fuzzer (tests/api/test_fuzz.py)."""
import os
from datetime import datetime

from hypothesis import strategies as st


def budget(default):
    """Examples per property: `default` in make test, DATP_FUZZ_EXAMPLES (500) in make fuzz."""
    return max(default, int(os.environ.get("DATP_FUZZ_EXAMPLES", "0")))


CONTROL = ["\x00", "\x01", "\x08", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\x85", "\u2028", "\ufeff", "\ud800"]

DURATION_EDGES = ["P1000000Y", "P9999Y", "P7973Y", "P8000Y", "PT99999999999999999999S", "P99999999999999999999D",
                  "P2562047788015215D", "-P1D", "-PT1S", "P1.5Y", "P0.5M", "P1,5D", "PT0S", "PT", "P", "P1W", "P0D",
                  "PT1S\x00", "P\u0661D", "P1Y2M3DT4H5M6S", "PT0.0000001S", "P0001-02-03T04:05:06", "pt1s", ""]
TIME_EDGES = ["9999-12-31T00:00:00Z", "9999-12-31T00:00:01Z", "9999-12-31T23:59:59-23:59",
              "9999-12-31T23:59:59.999999Z", "0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00Z",
              "0001-01-02T00:00:00Z", "10000-01-01T00:00:00Z",
              "2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00\x00Z", "2026-01-01T00:00:00+24:00",
              "1970-01-01T00:00:00Z", "2026-W01-1T00:00:00Z", "20260101T000000Z", "now"]
ID_EDGES = ["tx-" + "0" * 32, "tx-" + "f" * 31, "tx-" + "f" * 33, "tx-" + "F" * 32, "a" * 128, "a" * 129, "a" * 10000,
            "", " ", ".", "..", "a/b", "%", "%00", "a\x00b", "\x1f", "\x7f", "é", "ℌ", "a b", "a?b", "a#b"]
NUMBER_EDGES = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, -(2 ** 63) - 1, 10 ** 300, 10 ** 400,
                -(10 ** 400), 1e308, -1e308, 5e-324, 0.5, -0.0]


def _texts_with(edges):
    return st.one_of(st.sampled_from(edges), st.sampled_from(CONTROL),
                     st.tuples(st.sampled_from(edges), st.sampled_from(CONTROL)).map("".join))


@st.composite
def _duration_texts(draw):
    """ISO 8601 duration-like texts: every designator with numbers small, huge, fractional or signed."""
    part = st.one_of(st.integers(min_value=0, max_value=10 ** 25), st.sampled_from(["0.5", "1,5", "1e5", "-1", ""]))
    date = "".join(f"{draw(part)}{unit}" for unit in "YMWD" if draw(st.booleans()))
    time = "".join(f"{draw(part)}{unit}" for unit in "HMS" if draw(st.booleans()))
    designator = "T" if time or draw(st.booleans()) else ""
    text = draw(st.sampled_from(["P", "-P", "+P", "p", ""])) + date + designator + time
    return text + draw(st.sampled_from(["", "", "\x00", " ", "Z", "\u0663"]))


@st.composite
def _timestamp_texts(draw):
    """ISO 8601 timestamps anywhere in datetime's range, in any zone, with or without one."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
    zone = draw(st.sampled_from(["Z", "+00:00", "+23:59", "-23:59", "+14:00", "", "-00:30"]))
    return moment.isoformat() + zone


durations = st.one_of(_texts_with(DURATION_EDGES), _duration_texts())
timestamps = st.one_of(_texts_with(TIME_EDGES), _timestamp_texts())
ids = _texts_with(ID_EDGES)
numbers = st.sampled_from(NUMBER_EDGES)
texts = st.one_of(ids, st.sampled_from(["x" * 2000, "x" * 2001, "\x00" * 3]), st.text(max_size=20))
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, durations, timestamps)


def nested(depth, leaf=None):
    """`leaf` inside `depth` arrays."""
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


deep_json = st.sampled_from([63, 64, 65, 200]).map(lambda depth: {"deep": nested(depth)})
json_values = st.one_of(scalars, deep_json, st.recursive(
    scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=8))


def in_a_url(text):
    """Whether `text` can travel in a URL: a lone surrogate cannot come out of bytes."""
    return isinstance(text, str) and text == text.encode("utf-8", "replace").decode("utf-8")
