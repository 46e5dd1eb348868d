"""The parsed-table cache of gitgov.toml answers only for the exact text it was
parsed from, and a policy loaded through it is the policy loaded without it."""
from __future__ import annotations

import json
import os

import pytest

from gitgov.core import config, policy_cache
from gitgov.core.config import load_policy
from gitgov.core.config_template import DEFAULT_TOML
from gitgov.core.errors import ConfigError

from test_config import FULL


@pytest.fixture
def cache(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    return folder


def write(tmp_path, text: str):
    path = tmp_path / "gitgov.toml"
    path.write_text(text, encoding="utf-8")
    return path


def no_parsing(monkeypatch):
    monkeypatch.setattr(config, "_parse", lambda text, path: pytest.fail("parsed again"))


@pytest.mark.parametrize("text", [FULL, DEFAULT_TOML, "", "[plugins.x]\nf = 1.0\ni = 1\nb = true\n"])
def test_a_cached_table_builds_the_policy_a_fresh_parse_builds(tmp_path, cache, monkeypatch, text):
    path = write(tmp_path, text)
    fresh = load_policy(path)
    assert load_policy(path, cache_dir=cache) == fresh  # parsed, then kept
    no_parsing(monkeypatch)
    assert load_policy(path, cache_dir=cache) == fresh


def test_an_edit_is_seen_even_with_the_same_size_and_time(tmp_path, cache):
    path = write(tmp_path, '[plugins]\ndisable = ["aaa"]\n')
    st = path.stat()
    assert load_policy(path, cache_dir=cache).plugins.disable == ("aaa",)
    path.write_text('[plugins]\ndisable = ["bbb"]\n', encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert load_policy(path, cache_dir=cache).plugins.disable == ("bbb",)


def test_a_table_json_cannot_hold_is_parsed_each_time(tmp_path, cache):
    path = write(tmp_path, "[plugins.x]\nsince = 2024-01-02\nnan = nan\n")
    for _ in range(2):
        settings = load_policy(path, cache_dir=cache).plugins.settings["x"]
        assert str(settings["since"]) == "2024-01-02" and settings["nan"] != settings["nan"]
    assert not (cache / policy_cache.CACHE_NAME).exists()


def test_a_broken_cache_file_is_ignored_and_replaced(tmp_path, cache):
    (cache / policy_cache.CACHE_NAME).write_text("{not json")
    path = write(tmp_path, FULL)
    assert load_policy(path, cache_dir=cache) == load_policy(path)
    assert len(json.loads((cache / policy_cache.CACHE_NAME).read_text())) == 1


def test_an_invalid_policy_fails_with_its_line_each_time(tmp_path, cache):
    path = write(tmp_path, "[datasets.a]\npaths = [\"x\"]\nowner = 5\n")
    for _ in range(2):
        with pytest.raises(ConfigError) as exc:
            load_policy(path, cache_dir=cache)
        assert exc.value.line == 3


def test_a_few_texts_are_kept_for_worktrees_sharing_the_cache(tmp_path, cache, monkeypatch):
    texts = [f'[plugins]\ndisable = ["p{i}"]\n' for i in range(policy_cache.KEEP + 2)]
    for text in texts:
        load_policy(write(tmp_path, text), cache_dir=cache)
    kept = json.loads((cache / policy_cache.CACHE_NAME).read_text())
    assert len(kept) == policy_cache.KEEP
    no_parsing(monkeypatch)
    assert load_policy(write(tmp_path, texts[-1]), cache_dir=cache).plugins.disable == (f"p{len(texts) - 1}",)


def test_without_a_cache_folder_nothing_is_written(tmp_path):
    path = write(tmp_path, FULL)
    assert load_policy(path, cache_dir=tmp_path / "missing") == load_policy(path)
    assert not (tmp_path / "missing").exists()
