"""plan_uploads / plan_downloads: which files go to which keys, and back, checked up front."""

from __future__ import annotations

import pytest

from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.transfer.local_tree import (
    check_patterns,
    plan_downloads,
    plan_uploads,
    relative_key,
    selected,
)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "a.csv").write_text("a")
    (tmp_path / "d" / "b.csv").write_text("bb")
    (tmp_path / "d" / "e" / "c.txt").write_text("ccc")
    return tmp_path


def keys(plan):
    return [(p.key, p.size) for p in plan]


def test_folder_file_and_glob(tree):
    assert keys(plan_uploads(tree, prefix="p/")) == [
        ("p/a.csv", 1), ("p/d/b.csv", 2), ("p/d/e/c.txt", 3)
    ]  # fmt: skip
    assert keys(plan_uploads(tree / "a.csv", key="x")) == [("x", 1)]
    assert keys(plan_uploads(str(tree / "a.csv"), prefix="p/")) == [("p/a.csv", 1)]
    assert keys(plan_uploads(f"{tree}/**/*.csv", prefix="")) == [("a.csv", 1), ("d/b.csv", 2)]
    assert keys(plan_uploads(f"{tree}/d/*/*.txt", prefix="t/")) == [("t/e/c.txt", 3)]


def test_an_empty_folder_plans_nothing(tmp_path):
    assert plan_uploads(tmp_path, prefix="p/") == []


@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        ("a.csv", {"key": "k", "prefix": "p/"}, "give one of them, not both"),
        ("a.csv", {}, "key or prefix"),
        ("missing", {"key": "k"}, "does not exist"),
        ("*.parquet", {"prefix": "p/"}, "matches no files"),
        ("*.csv", {"key": "k"}, "glob pattern .* use prefix"),
        (".", {"key": "k"}, "is a folder .* use prefix"),
        ("a.csv", {"key": "k" * 1025}, "at most 1024 bytes"),
    ],
)
def test_bad_upload_sources(tree, source, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        plan_uploads(str(tree / source), **kwargs)


def test_relative_key():
    assert relative_key("data/x", "data/") == "x"
    assert relative_key("data/x", "data") == "x"
    assert relative_key("data-2/x", "data") == "-2/x"
    assert relative_key("x", "") == "x"


def test_downloads_map_keys_under_the_folder(tmp_path):
    plan = plan_downloads([("in/a", 1), ("in/s/b", 2), ("in/s/", 0)], "in/", tmp_path)
    assert [(p.key, p.path, p.size) for p in plan] == [
        ("in/a", tmp_path / "a", 1), ("in/s/b", tmp_path / "s" / "b", 2)
    ]  # fmt: skip


def test_escaping_and_clashing_keys_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"2 key\(s\) would escape .*'../x', '/etc/p'"):
        plan_downloads([("ok", 1), ("in/../x", 1), ("../x", 1), ("/etc/p", 1)], "", tmp_path)
    with pytest.raises(ConfigError, match="same file: 'in/a/b' and 'in/a/./b'"):
        plan_downloads([("in/a/b", 1), ("in/a/./b", 1)], "in/", tmp_path)
    with pytest.raises(ConfigError, match="not under prefix"):
        plan_downloads([("out/a", 1)], "in/", tmp_path)


@pytest.mark.parametrize(
    ("relative", "include", "exclude", "expected"),
    [
        ("a/b.csv", (), (), True),
        ("a/b.csv", ("*.csv",), (), True),  # '*' crosses '/', and a bare name matches anywhere
        ("a/b.txt", ("*.csv",), (), False),
        ("a/b.csv", ("a/*",), ("*.csv",), False),  # exclude wins
        ("deep/x/b.csv", ("deep/*",), (), True),
        ("x/deep/b.csv", ("deep/*",), (), False),  # a pattern with '/' matches from the root
        ("b.csv", (), ("b.csv",), False),
    ],
)
def test_include_and_exclude_globs(relative, include, exclude, expected):
    assert selected(relative, include, exclude) is expected


def test_patterns_are_checked():
    assert check_patterns("include", None) == ()
    assert check_patterns("include", "*.csv") == ("*.csv",)
    assert check_patterns("include", ["a", "b"]) == ("a", "b")
    for bad in ([""], [1], 5):
        with pytest.raises(ConfigError, match="include"):
            check_patterns("include", bad)
