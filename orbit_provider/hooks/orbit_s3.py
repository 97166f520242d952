"""OrbitS3Hook: builds core S3Clients from an Airflow connection. It holds no S3 logic."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from orbit_provider.hooks.connection import ConnectionSettings, settings_from_connection
from orbit_provider.hooks.lineage import report_lineage
from orbit_provider.s3.client import S3Client

_PROBE_BUCKET = "orbit-probe"  # S3Config needs a bucket; ListBuckets does not use it


class OrbitS3Hook(BaseHook):
    """Interact with S3 (or any S3-compatible store) through orbit_provider's transfer core.

    :param orbit_conn_id: An ``orbit_s3`` (or amazon ``aws``) connection id. Login is the
        access key id, password the secret; extras hold region, endpoint, role and transfer
        defaults. An empty connection uses the standard AWS credential chain.
    """

    conn_name_attr = "orbit_conn_id"
    default_conn_name = "orbit_s3_default"
    conn_type = "orbit_s3"
    hook_name = "Orbit S3"

    def __init__(self, orbit_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.orbit_conn_id = orbit_conn_id

    def __repr__(self) -> str:
        return f"OrbitS3Hook(orbit_conn_id={self.orbit_conn_id!r})"

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read from Airflow once per hook)."""
        return settings_from_connection(self.get_connection(self.orbit_conn_id))

    def get_conn(self) -> S3Client:
        """An S3Client for the connection's default bucket (Airflow's generic entry point)."""
        return self.get_client()

    def get_client(self, bucket: str | None = None, **overrides: Any) -> S3Client:
        """An S3Client for `bucket` (default: the connection's `bucket` extra).

        :param bucket: The bucket the client talks to.
        :param overrides: S3Config fields for this call only (e.g. ``chunk_size=16 * MIB``).
        """
        return self.settings.client(bucket, **overrides)

    def test_connection(self) -> tuple[bool, str]:
        """Check credentials and endpoint: HeadBucket on the `bucket` extra, else ListBuckets."""
        try:
            settings = self.settings
            bucket = settings.bucket
            client = settings.client(bucket or _PROBE_BUCKET, max_retries=0)
            return True, f"Connection works: {client.check_access(list_buckets=not bucket)}."
        except Exception as exc:
            return False, _scrub(f"{type(exc).__name__}: {exc}", self._secrets())

    def report_lineage(
        self,
        *,
        inputs: Iterable[str | os.PathLike] = (),
        outputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        """Report read/written `s3://` URIs or local paths to Airflow's hook lineage collector."""
        report_lineage(self, inputs=inputs, outputs=outputs)

    def _secrets(self) -> list[str]:
        try:
            conn = self.get_connection(self.orbit_conn_id)
        except Exception:
            return []
        extras = getattr(conn, "extra_dejson", {}) or {}
        values = [conn.password, extras.get("aws_session_token"),
                  extras.get("aws_secret_access_key")]  # fmt: skip
        return [v for v in values if isinstance(v, str) and len(v) >= 4]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: which standard fields are hidden, relabelled, and their hints."""
        return {
            "hidden_fields": ["host", "schema", "port"],
            "relabeling": {"login": "AWS Access Key ID", "password": "AWS Secret Access Key"},
            "placeholders": {
                "login": "leave empty for the standard AWS credential chain",
                "password": "secret access key",
                "extra": '{"region_name": "us-east-1", "endpoint_url": "http://127.0.0.1:8333",'
                ' "force_path_style": true}',
            },
        }


def _scrub(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message
