"""core.arrow_values builds the same arrays and scalars as pyarrow's own conversion."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from gitgov.core import arrow_values as av

PLUS2 = dt.timezone(dt.timedelta(hours=2))
CASES = [
    ([1, None, 3], pa.int64()), ([1, 2], pa.int32()), ([1, 2.5], pa.float64()),
    ([1, 2], pa.float64()), (["a", None, "é"], pa.string()), (["x"], pa.large_string()),
    ([b"x", None], pa.binary()), ([True, None, False], pa.bool_()),
    ([dt.date(2020, 1, 2), None, dt.date(1960, 5, 5)], pa.date32()),
    ([dt.datetime(2020, 1, 2, 3, 4, 5, 678901), dt.datetime(1960, 1, 1, tzinfo=PLUS2)],
     pa.timestamp("us", "UTC")),
    ([dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=PLUS2)], pa.timestamp("us")),
    ([dt.datetime(2020, 1, 2, 3, 4, 5, 678000)], pa.timestamp("ms", "UTC")),
    ([None, None], pa.string()), ([], pa.int64()), ([1, None], None), (["a"], None),
]


@pytest.mark.parametrize("values,typ", CASES)
def test_arrays_equal_pyarrows_conversion(values, typ):
    assert av.array(values, typ).equals(pa.array(values, typ))


@pytest.mark.parametrize("values,typ", [c for c in CASES if c[0] and c[0][0] is not None])
def test_scalars_equal_pyarrows_conversion(values, typ):
    assert av.scalar(values[0], typ).equals(pa.scalar(values[0], typ))


def test_a_value_pyarrow_cannot_hold_fails_as_pyarrow_fails():
    with pytest.raises(OverflowError):
        av.array([2**70], pa.int64())


def test_masks_and_repeats():
    assert av.mask([True, False]).to_pylist() == [True, False]
    assert av.repeat(False, 3).to_pylist() == [False] * 3
    assert av.scalar(None, pa.string()).is_valid is False


@pytest.mark.parametrize("typ", [pa.timestamp("us"), pa.timestamp("us", "UTC"),
                                 pa.timestamp("ms", "UTC"), pa.timestamp("s"),
                                 pa.timestamp("us", "Europe/Berlin")])
def test_timestamps_read_back_as_pyarrow_reads_them(typ):
    arr = pa.array([dt.datetime(2021, 3, 1, 10, 0, 5), None, dt.datetime(1950, 1, 1)], typ)
    assert av.pylist(arr) == arr.to_pylist()
    assert av.py(arr[0]) == arr[0].as_py() and av.py(arr[1]) is None
