"""Whole-value regex masks: grouped matching gives exactly the per-value answer."""
from __future__ import annotations

import re

import pyarrow as pa
import pytest

from gitgov.plugins.validation import matching

EMAIL = r"[a-z0-9.]+@[a-z0-9]+(?:\.[a-z]+)+"


def emails(n: int, bad_every: int) -> pa.Array:
    return pa.array([None if i % 97 == 0 else
                     f"user{i}.example.com" if bad_every and i % bad_every == 0 else f"user{i}@example.com"
                     for i in range(n)], pa.binary())


def expected(values: pa.Array) -> list:
    whole = re.compile(EMAIL.encode())
    return [None if v is None else whole.fullmatch(v) is None for v in values.to_pylist()]


@pytest.fixture(autouse=True)
def fresh_state():
    matching._ungrouped.clear()
    yield
    matching._ungrouped.clear()


@pytest.mark.parametrize("bad_every", [0, 3, 100, 5000])
def test_mask_equals_a_match_per_value_whatever_the_defect_rate(bad_every):
    values = emails(20_000, bad_every)
    for _ in range(3):  # the later batches may go value by value: same answer
        assert matching.mismatches(values, EMAIL).to_pylist() == expected(values)


def test_a_pattern_whose_groups_mostly_fail_is_matched_value_by_value_for_a_while():
    dirty, clean = emails(20_000, 100), emails(20_000, 0)
    matching.mismatches(clean, EMAIL)
    assert EMAIL not in matching._ungrouped  # every group passed: grouping pays
    matching.mismatches(dirty, EMAIL)  # one bad value in a hundred fails every group of 512
    assert matching._ungrouped[EMAIL] == matching.REGROUP
    for left in range(matching.REGROUP - 1, -1, -1):
        assert matching.mismatches(clean, EMAIL).to_pylist() == expected(clean)
        assert matching._ungrouped[EMAIL] == left
    matching.mismatches(clean, EMAIL)  # grouped again, and it passes: stays grouped
    assert matching._ungrouped[EMAIL] == 0
