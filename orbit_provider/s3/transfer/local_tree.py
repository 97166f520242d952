"""Plan which local files map to which keys (uploads) and which keys to which paths (downloads).

Pure planning, done before any request so bad input fails early: a missing source, a glob
that matches nothing, a key given for many files, keys that would escape the destination
folder, two keys landing on one file.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from orbit_provider.s3.config import validate_key
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.transfer.paths import SafeJoiner

_MAGIC = ("*", "?", "[")


@dataclass(frozen=True)
class PlannedUpload:
    """One local file and the key it goes to."""

    path: Path
    key: str
    size: int


@dataclass(frozen=True)
class PlannedDownload:
    """One key and the local path it goes to."""

    key: str
    path: Path
    size: int


def is_glob(source: str) -> bool:
    """Whether `source` is a glob pattern (holds *, ? or [)."""
    return any(ch in source for ch in _MAGIC)


def _glob_base(pattern: str) -> Path:
    """The leading folders of `pattern` that hold no wildcard (keys are relative to it)."""
    parts = Path(pattern).parts
    base: list[str] = []
    for part in parts[:-1]:
        if is_glob(part):
            break
        base.append(part)
    return Path(*base) if base else Path(".")


def _join_key(prefix: str, relative: Path) -> str:
    return prefix + relative.as_posix()


def plan_uploads(
    source: str | os.PathLike, *, key: str | None = None, prefix: str | None = None
) -> list[PlannedUpload]:
    """Files under `source` (a file, a folder walked recursively, or a glob) with their keys.

    A single file goes to `key`, or to `prefix` + its name. A folder's files go to
    `prefix` + their path relative to the folder; a glob's to `prefix` + their path relative
    to the pattern's wildcard-free leading folder. Keys always use forward slashes.
    """
    if key is not None and prefix is not None:
        raise ConfigError("key and prefix: give one of them, not both")
    if key is None and prefix is None:
        raise ConfigError("key or prefix: give the destination key (a file) or a prefix")
    if not isinstance(source, str | os.PathLike) or not os.fspath(source):
        raise ConfigError("source: a local file, folder or glob pattern is required")
    text = os.fspath(source)
    if is_glob(text):
        if key is not None:
            raise ConfigError(f"key: {text!r} is a glob pattern (many files); use prefix instead")
        base = _glob_base(text)
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise ConfigError(f"source: the glob {text!r} matches no files")
        planned = [_planned(p, _join_key(prefix or "", p.relative_to(base))) for p in files]
    else:
        path = Path(text)
        if path.is_dir():
            if key is not None:
                raise ConfigError(f"key: {text!r} is a folder (many files); use prefix instead")
            planned = [
                _planned(p, _join_key(prefix or "", p.relative_to(path)))
                for p in _walk_files(path)
            ]
        elif path.is_file():
            planned = [_planned(path, key if key is not None else f"{prefix}{path.name}")]
        elif path.exists():
            raise ConfigError(f"source: {text!r} is not a regular file or a folder")
        else:
            raise ConfigError(f"source: {text!r} does not exist")
    for item in planned:
        validate_key(item.key)
    return planned


def _planned(path: Path, key: str) -> PlannedUpload:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ConfigError(f"source: {str(path)!r} cannot be read: {exc.strerror}") from None
    return PlannedUpload(path, key, size)


def _walk_files(folder: Path) -> list[Path]:
    """Every regular file under `folder` (symlinked folders are not followed), sorted."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            candidate = Path(root) / name
            if candidate.is_file():
                found.append(candidate)
    return found


def relative_key(key: str, prefix: str) -> str:
    """`key` without `prefix` (and without the '/' after a prefix that lacks one)."""
    rest = key[len(prefix):]
    if prefix and not prefix.endswith("/") and rest.startswith("/"):
        rest = rest[1:]
    return rest


def plan_downloads(
    objects: Iterable[tuple[str, int]], prefix: str, dest_dir: str | os.PathLike
) -> list[PlannedDownload]:
    """(key, size) pairs under `prefix` -> local paths under `dest_dir` (safe_join).

    Folder markers (keys ending in '/') are left out. Raises ConfigError naming every key that
    would escape `dest_dir` and every pair of keys that would land on the same file.
    """
    planned: list[PlannedDownload] = []
    refused: list[str] = []
    by_path: dict[Path, str] = {}
    clashes: list[str] = []
    joiner = SafeJoiner(dest_dir)
    for key, size in objects:
        if not key.startswith(prefix):
            raise ConfigError(f"key {key!r} is not under prefix {prefix!r}")
        if key.endswith("/"):
            continue
        try:
            path = joiner.join(relative_key(key, prefix))
        except ConfigError:
            refused.append(key)
            continue
        if path in by_path:
            clashes.append(f"{by_path[path]!r} and {key!r}")
            continue
        by_path[path] = key
        planned.append(PlannedDownload(key, path, size))
    if refused:
        shown = ", ".join(repr(k) for k in refused[:10])
        more = f" and {len(refused) - 10} more" if len(refused) > 10 else ""
        raise ConfigError(
            f"{len(refused)} key(s) would escape the destination folder {str(dest_dir)!r} "
            f"and were refused: {shown}{more}; nothing was downloaded"
        )
    if clashes:
        raise ConfigError(
            f"keys that would be written to the same file: {'; '.join(clashes[:10])}; "
            "nothing was downloaded"
        )
    return planned


def check_patterns(name: str, patterns: str | Sequence[str] | None) -> tuple[str, ...]:
    """Include/exclude globs as a tuple (one string is one pattern); refuses anything else."""
    if patterns is None:
        return ()
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, Sequence) or not all(
        isinstance(p, str) and p for p in patterns
    ):
        raise ConfigError(f"{name}: {patterns!r} must be a glob or a list of non-empty globs")
    return tuple(patterns)


def selected(relative: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> bool:
    """Whether a path relative to the tree's folder or prefix (forward slashes) is included.

    A pattern matches the whole relative path (`*` also crosses '/', so `*.csv` matches
    `a/b.csv`) or, when it holds no '/', the file's name alone. With `include` given, only
    paths matching one of them are selected; `exclude` wins over `include`.
    """
    name = relative.rsplit("/", 1)[-1]

    def hit(patterns: Sequence[str]) -> bool:
        return any(
            fnmatch.fnmatchcase(relative, p) or ("/" not in p and fnmatch.fnmatchcase(name, p))
            for p in patterns
        )

    if include and not hit(include):
        return False
    return not (exclude and hit(exclude))
