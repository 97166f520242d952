"""The large-file clients the transfer benchmark compares, as worker entry points.

Each `prepare(spec)` builds its client outside the measured section and returns the
measured callable. params: `path`, `key`, `chunk_size` (orbit's, None: automatic),
`threshold` (the chunk size in force), `parallel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Measured = Callable[[], dict]


def _boto3(spec: dict[str, Any], pool: int = 10, **config: Any) -> Any:
    """boto3's S3 client as a user would build it: library defaults, path-style addressing."""
    import boto3
    from botocore.config import Config

    s3 = config.pop("s3", {})
    return boto3.client(
        "s3",
        endpoint_url=spec["endpoint"],
        aws_access_key_id=spec["access_key"],
        aws_secret_access_key=spec["secret_key"],
        region_name="us-east-1",
        config=Config(max_pool_connections=pool, s3={"addressing_style": "path", **s3}, **config),
    )


def _tuned_config(p: dict[str, Any], part_size: int | None = None) -> Any:
    """TransferConfig with orbit's part size and concurrency (threshold = the chunk size in
    force, like ours).

    Uploads pass `part_size`: the part size orbit's upload_file uses for this file, which is
    larger than the chunk size for large files when none is set (upload_plan.py)."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=p["threshold"],
        multipart_chunksize=part_size or p["threshold"],
        max_concurrency=p["parallel"],
    )


def _orbit(spec: dict[str, Any]) -> Any:
    from orbit_provider.s3.client import S3Client
    from orbit_provider.s3.config import Credentials, S3Config

    p = spec["params"]
    client = S3Client(
        S3Config(
            bucket=spec["bucket"],
            endpoint=spec["endpoint"],
            region="us-east-1",
            credentials=Credentials(spec["access_key"], spec["secret_key"]),
            force_path_style=True,
            chunk_size=p["chunk_size"],
            parallel_operations=p["parallel"],
        )
    )
    client.s3  # noqa: B018 - build the boto3 client before measuring
    return client


def _hook() -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default")
    hook.get_conn()
    hook.transfer_config  # noqa: B018
    return hook


# -- upload ------------------------------------------------------------------------------------


def upload_orbit(spec: dict[str, Any]) -> Measured:
    client, p = _orbit(spec), spec["params"]

    def run() -> dict:
        r = client.upload_file(p["path"], p["key"])
        return {"parts": r.parts, "etag": r.etag, "checksum": r.checksum}

    return run


def upload_boto3_default(spec: dict[str, Any]) -> Measured:
    s3, p = _boto3(spec), spec["params"]
    return lambda: s3.upload_file(p["path"], spec["bucket"], p["key"]) or {}


def upload_boto3_tuned(spec: dict[str, Any]) -> Measured:
    p = spec["params"]
    s3 = _boto3(spec, pool=max(10, p["parallel"]))
    cfg = _tuned_config(p, p.get("upload_part_size"))
    return lambda: s3.upload_file(p["path"], spec["bucket"], p["key"], Config=cfg) or {}


def upload_boto3_lean(spec: dict[str, Any]) -> Measured:
    """Informative ceiling, NOT integrity-checked: no checksum, unsigned payload, tuned."""
    p = spec["params"]
    s3 = _boto3(
        spec,
        pool=max(10, p["parallel"]),
        s3={"payload_signing_enabled": False},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    cfg = _tuned_config(p, p.get("upload_part_size"))
    return lambda: s3.upload_file(p["path"], spec["bucket"], p["key"], Config=cfg) or {}


def upload_boto3_32(spec: dict[str, Any]) -> Measured:
    """boto3's defaults but 32 threads (and connections): what the WAN proxy lets through."""
    from boto3.s3.transfer import TransferConfig

    s3, p = _boto3(spec, pool=32), spec["params"]
    cfg = TransferConfig(max_concurrency=32)
    return lambda: s3.upload_file(p["path"], spec["bucket"], p["key"], Config=cfg) or {}


def upload_s3hook(spec: dict[str, Any]) -> Measured:
    hook, p = _hook(), spec["params"]
    bucket = spec["bucket"]
    return lambda: hook.load_file(p["path"], p["key"], bucket_name=bucket, replace=True) or {}


# -- download ----------------------------------------------------------------------------------


def download_orbit(spec: dict[str, Any]) -> Measured:
    client, p = _orbit(spec), spec["params"]

    def run() -> dict:
        r = client.download_file(p["key"], p["path"])
        return {"path": str(r.path), "size": r.size}

    return run


def download_boto3_default(spec: dict[str, Any]) -> Measured:
    s3, p = _boto3(spec), spec["params"]

    def run() -> dict:
        s3.download_file(spec["bucket"], p["key"], p["path"])
        return {"path": p["path"]}

    return run


def download_boto3_tuned(spec: dict[str, Any]) -> Measured:
    p = spec["params"]
    s3, cfg = _boto3(spec, pool=max(10, p["parallel"])), _tuned_config(p)

    def run() -> dict:
        s3.download_file(spec["bucket"], p["key"], p["path"], Config=cfg)
        return {"path": p["path"]}

    return run


def download_boto3_lean(spec: dict[str, Any]) -> Measured:
    """Informative ceiling, NOT integrity-checked: no response checksum validation, tuned."""
    p = spec["params"]
    s3 = _boto3(
        spec,
        pool=max(10, p["parallel"]),
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    cfg = _tuned_config(p)

    def run() -> dict:
        s3.download_file(spec["bucket"], p["key"], p["path"], Config=cfg)
        return {"path": p["path"]}

    return run


def download_boto3_32(spec: dict[str, Any]) -> Measured:
    """boto3's defaults but 32 threads (and connections): what the WAN proxy lets through."""
    from boto3.s3.transfer import TransferConfig

    s3, p = _boto3(spec, pool=32), spec["params"]
    cfg = TransferConfig(max_concurrency=32)

    def run() -> dict:
        s3.download_file(spec["bucket"], p["key"], p["path"], Config=cfg)
        return {"path": p["path"]}

    return run


def download_s3hook(spec: dict[str, Any]) -> Measured:
    import os

    hook, p = _hook(), spec["params"]
    folder = os.path.dirname(p["path"])

    def run() -> dict:
        # preserve_file_name keeps the key's last segment as the file name
        path = hook.download_file(
            p["key"],
            bucket_name=spec["bucket"],
            local_path=folder,
            preserve_file_name=True,
            use_autogenerated_subdir=False,
        )
        return {"path": path}

    return run


CLIENTS: dict[str, Callable[[dict[str, Any]], Measured]] = {
    "upload.orbit": upload_orbit,
    "upload.boto3_default": upload_boto3_default,
    "upload.boto3_tuned": upload_boto3_tuned,
    "upload.boto3_lean": upload_boto3_lean,
    "upload.boto3_32": upload_boto3_32,
    "upload.s3hook": upload_s3hook,
    "download.orbit": download_orbit,
    "download.boto3_default": download_boto3_default,
    "download.boto3_tuned": download_boto3_tuned,
    "download.boto3_lean": download_boto3_lean,
    "download.boto3_32": download_boto3_32,
    "download.s3hook": download_s3hook,
}
