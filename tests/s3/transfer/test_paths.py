"""safe_join: a key maps into its destination folder, or raises ConfigError."""

from __future__ import annotations

import os

import pytest

from orbit_provider.s3 import safe_join
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.transfer.paths import SafeJoiner


@pytest.mark.parametrize(
    ("key", "parts"),
    [
        ("a.txt", ("a.txt",)),
        ("dir/sub/a.txt", ("dir", "sub", "a.txt")),
        ("dir//a.txt", ("dir", "a.txt")),
        ("./dir/./a.txt", ("dir", "a.txt")),
        ("dir/../a.txt", ("a.txt",)),  # climbs, but stays inside
        ("..a/b..", ("..a", "b..")),  # dots inside names are just names
    ],
)
def test_keys_inside_the_folder(tmp_path, key, parts):
    assert safe_join(tmp_path, key) == tmp_path.resolve().joinpath(*parts)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../x",
        "../../etc/passwd",
        "a/../../x",
        "..",
        "/etc/passwd",
        "//etc/passwd",
        "dir/",
        ".",
        "a/..",
        "a\x00b",
    ],
)
def test_escaping_or_invalid_keys_are_refused(tmp_path, key):
    with pytest.raises(ConfigError):
        safe_join(tmp_path, key)


def test_symlink_pointing_outside_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    os.symlink(outside, dest / "link")
    with pytest.raises(ConfigError, match="outside the destination folder"):
        safe_join(dest, "link/secret.txt")
    os.symlink(outside / "file", dest / "filelink")
    with pytest.raises(ConfigError):
        safe_join(dest, "filelink")


def test_symlink_inside_the_folder_is_allowed(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert safe_join(tmp_path, "alias/x.bin") == tmp_path.resolve() / "alias" / "x.bin"


def test_dest_dir_that_is_itself_a_symlink_works(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "linked")
    assert safe_join(tmp_path / "linked", "k") == (tmp_path / "real").resolve() / "k"


def test_one_joiner_for_many_keys_refuses_every_link_out_and_keeps_the_rest(tmp_path):
    """SafeJoiner caches each folder's resolution: keys sharing a folder with a link out,
    nested folders, and a file link are still judged one by one."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    (dest / "a" / "b").mkdir(parents=True)
    os.symlink(outside, dest / "a" / "out")
    os.symlink(outside / "f", dest / "a" / "b" / "filelink")
    joiner = SafeJoiner(dest)
    base = dest.resolve()
    assert joiner.join("a/b/one") == base / "a" / "b" / "one"
    assert joiner.join("a/b/two") == base / "a" / "b" / "two"
    assert joiner.join("a/new/deeper/x") == base / "a" / "new" / "deeper" / "x"
    for key in ("a/out/x", "a/out/deep/er", "a/b/filelink", "a/b/../out/y"):
        with pytest.raises(ConfigError):
            joiner.join(key)
    assert joiner.join("a/b/three") == base / "a" / "b" / "three"
