"""Build S3Clients and buckets for a local server (SeaweedServer or MotoServer)."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import Credentials, S3Config


class LocalServer(Protocol):
    endpoint: str
    access_key: str
    secret_key: str


def config_for(server: LocalServer, bucket: str, **overrides: Any) -> S3Config:
    """An S3Config that talks to `server` with its credentials."""
    fields: dict[str, Any] = {
        "bucket": bucket,
        "endpoint": server.endpoint,
        "region": "us-east-1",
        "credentials": Credentials(server.access_key, server.secret_key),
        "force_path_style": True,
    }
    fields.update(overrides)
    return S3Config(**fields)


def client_for(server: LocalServer, bucket: str, **overrides: Any) -> S3Client:
    return S3Client(config_for(server, bucket, **overrides))


def create_bucket(server: LocalServer, name: str | None = None) -> str:
    """Create a bucket with a unique (or the given) name on `server` and return its name."""
    name = name or f"orbit-{uuid.uuid4().hex[:12]}"
    client_for(server, name).s3.create_bucket(Bucket=name)
    return name
