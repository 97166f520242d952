"""The bulk-operation clients the batch benchmark compares, as worker entry points.

params: `prefix` and `count` name the keys (`{prefix}{i:06d}`); copies add `dest_prefix`.
Keys are built outside the measured section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.transfer_clients import _boto3, _hook

Measured = Callable[[], dict]


def keys_for(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(count)]


def _orbit(spec: dict[str, Any]) -> Any:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.config import Credentials, S3Config

    client = S3Client(
        S3Config(
            bucket=spec["bucket"],
            endpoint=spec["endpoint"],
            region="us-east-1",
            credentials=Credentials(spec["access_key"], spec["secret_key"]),
            force_path_style=True,
        )
    )
    client.s3  # noqa: B018 - build the boto3 client before measuring
    return client


def _summary(result: Any) -> dict:
    return {
        "total": result.total,
        "successful": result.successful,
        "failed": result.failed,
        "errors": [list(e) for e in result.errors[:5]],
    }


# -- delete ------------------------------------------------------------------------------------


def delete_orbit(spec: dict[str, Any]) -> Measured:
    client, p = _orbit(spec), spec["params"]
    keys = keys_for(p["prefix"], p["count"])
    return lambda: _summary(client.batch_delete(keys))


def delete_s3hook(spec: dict[str, Any]) -> Measured:
    hook, p = _hook(), spec["params"]
    keys = keys_for(p["prefix"], p["count"])
    return lambda: hook.delete_objects(spec["bucket"], keys) or {}


def delete_loop(spec: dict[str, Any]) -> Measured:
    """One DeleteObject request a key, sequentially, with boto3's defaults."""
    s3, p = _boto3(spec), spec["params"]
    keys = keys_for(p["prefix"], p["count"])

    def run() -> dict:
        for key in keys:
            s3.delete_object(Bucket=spec["bucket"], Key=key)
        return {}

    return run


# -- copy --------------------------------------------------------------------------------------


def copy_orbit(spec: dict[str, Any]) -> Measured:
    client, p = _orbit(spec), spec["params"]
    keys = keys_for(p["prefix"], p["count"])
    return lambda: _summary(client.batch_copy(keys, p["dest_prefix"]))


def copy_orbit_noskip(spec: dict[str, Any]) -> Measured:
    """batch_copy without skip_identical (no HEAD of the destination before each copy)."""
    client, p = _orbit(spec), spec["params"]
    keys = keys_for(p["prefix"], p["count"])
    return lambda: _summary(client.batch_copy(keys, p["dest_prefix"], skip_identical=False))


def _dest(p: dict[str, Any], key: str) -> str:
    return p["dest_prefix"] + key.rsplit("/", 1)[-1]


def copy_sequential(spec: dict[str, Any]) -> Measured:
    """A copy_object loop, as the amazon provider's prefix copy does it."""
    s3, p = _boto3(spec), spec["params"]
    keys, bucket = keys_for(p["prefix"], p["count"]), spec["bucket"]

    def run() -> dict:
        for key in keys:
            s3.copy_object(
                Bucket=bucket, Key=_dest(p, key), CopySource={"Bucket": bucket, "Key": key}
            )
        return {}

    return run


def copy_threads16(spec: dict[str, Any]) -> Measured:
    """copy_object from 16 threads sharing one boto3 client (pool of 16 connections)."""
    from concurrent.futures import ThreadPoolExecutor

    s3, p = _boto3(spec, pool=16), spec["params"]
    keys, bucket = keys_for(p["prefix"], p["count"]), spec["bucket"]

    def one(key: str) -> None:
        s3.copy_object(Bucket=bucket, Key=_dest(p, key), CopySource={"Bucket": bucket, "Key": key})

    def run() -> dict:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(one, keys))
        return {}

    return run


CLIENTS: dict[str, Callable[[dict[str, Any]], Measured]] = {
    "delete.orbit": delete_orbit,
    "delete.s3hook": delete_s3hook,
    "delete.loop": delete_loop,
    "copy.orbit": copy_orbit,
    "copy.orbit_noskip": copy_orbit_noskip,
    "copy.sequential": copy_sequential,
    "copy.threads16": copy_threads16,
}
