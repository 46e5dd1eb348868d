"""Glob semantics of dataset paths: what matches, what does not, what is malformed."""
from __future__ import annotations

import pytest

from gitgov.core.config import compile_patterns
from gitgov.core.globs import GlobError, glob_error, glob_to_regex


@pytest.mark.parametrize("glob, path, expected", [
    ("data/raw/*.csv", "data/raw/a.csv", True),
    ("data/raw/*.csv", "data/raw/sub/a.csv", False),  # "*" does not cross "/"
    ("data/raw/*.csv", "data/raw/a.csv.bak", False),
    ("data/raw/*.csv", "other/data/raw/a.csv", False),  # anchored at the root
    ("data/**/*.parquet", "data/a.parquet", True),  # "**" spans zero directories
    ("data/**/*.parquet", "data/x/y/z.parquet", True),
    ("data/**/*.parquet", "data.parquet", False),
    ("data/raw/**", "data/raw/a/b/c.csv", True),
    ("data/raw/**", "data/raw", False),
    ("data/raw/**", "data/rawer/a.csv", False),
    ("data/raw/", "data/raw/a.csv", True),  # trailing "/" == "/**"
    ("**/*.csv", "a.csv", True),
    ("**/*.csv", "x/y/a.csv", True),
    ("*.csv", "a.csv", True),
    ("*.csv", "x/a.csv", False),  # no "/" still means the top level only
    ("data/file?.csv", "data/file1.csv", True),
    ("data/file?.csv", "data/file10.csv", False),
    ("data/file?.csv", "data/file/.csv", False),
    ("data/[ab].csv", "data/b.csv", True),
    ("data/[!ab].csv", "data/b.csv", False),
    ("data/[!ab].csv", "data/c.csv", True),
    ("data/[+-0].csv", "data/+.csv", True),
    ("data/x[+-0]y.csv", "data/x/y.csv", False),  # a range holding "/" still never matches it
    ("data/[]].csv", "data/].csv", True),
    ("data/\\*.csv", "data/*.csv", True),
    ("data/\\*.csv", "data/a.csv", False),
    ("data/a+b (1).csv", "data/a+b (1).csv", True),  # regex metacharacters are literal
    ("Data/*.csv", "data/a.csv", False),  # case-sensitive, like git
    ("data/*", "data/.hidden", True),
])
def test_glob_matching(glob, path, expected):
    assert bool(compile_patterns([glob]).match(path)) is expected


def test_no_patterns_match_nothing():
    assert compile_patterns([]).match("") is None and compile_patterns([]).match("a") is None


def test_glob_to_regex_rejects_directly():
    with pytest.raises(GlobError):
        glob_to_regex("a/[b")




@pytest.mark.parametrize("glob", ["data/*.csv", "data/**", "a/b/", "**/x"])
def test_glob_error_is_none_for_good_globs(glob):
    assert glob_error(glob) is None
