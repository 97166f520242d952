"""OrbitS3Hook: builds core S3Clients from an Airflow connection. It holds no S3 logic."""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from orbit_provider.hooks.connection import ConnectionSettings, settings_from_connection
from orbit_provider.hooks.lineage import report_lineage
from orbit_provider.s3.client import S3Client
from orbit_provider.s3.errors import ConfigError

_PROBE_BUCKET = "orbit-probe"  # S3Config needs a bucket; ListBuckets does not use it
DEFAULT_CONN_ID = "orbit_s3_default"


class _Unset:
    """The default of `orbit_conn_id` / `aws_conn_id`: not given (None means "no connection")."""

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _Unset()


def resolve_conn_id(orbit_conn_id: Any = NOTSET, aws_conn_id: Any = NOTSET) -> str | None:
    """The connection id from `orbit_conn_id` or its alias `aws_conn_id` (the amazon
    provider's name): the one given, the default when neither is, None for no connection (the
    standard AWS credential chain). Two different ids raise ConfigError."""
    given = [v for v in (orbit_conn_id, aws_conn_id) if not isinstance(v, _Unset)]
    if len(given) == 2 and given[0] != given[1]:
        raise ConfigError(
            f"orbit_conn_id={given[0]!r} and aws_conn_id={given[1]!r} name different "
            "connections; give one of them (aws_conn_id is an alias of orbit_conn_id)"
        )
    if not given:
        return DEFAULT_CONN_ID
    conn_id = given[0]
    if callable(getattr(conn_id, "resolve", None)):
        return conn_id  # an XComArg: resolved before execute, checked by the hook then
    if conn_id is not None and not isinstance(conn_id, str):
        raise ConfigError(f"orbit_conn_id: {conn_id!r} must be a connection id or None")
    return conn_id or None


class OrbitS3Hook(BaseHook):
    """Interact with S3 (or any S3-compatible store) through orbit_provider's transfer core.

    :param orbit_conn_id: An ``orbit_s3`` (or amazon ``aws``) connection id. Login is the
        access key id, password the secret; extras hold region, endpoint, role and transfer
        defaults. An empty connection, None, or an id that names no connection (as the amazon
        provider does, with a warning) uses boto3's standard credential chain: environment,
        web identity (IRSA), ECS task role, instance profile.
    :param aws_conn_id: Alias of `orbit_conn_id` (the amazon provider's name).
    """

    conn_name_attr = "orbit_conn_id"
    default_conn_name = "orbit_s3_default"
    conn_type = "orbit_s3"
    hook_name = "Orbit S3"

    def __init__(
        self, orbit_conn_id: str | None = NOTSET, aws_conn_id: str | None = NOTSET, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.orbit_conn_id = resolve_conn_id(orbit_conn_id, aws_conn_id)

    def __repr__(self) -> str:
        return f"OrbitS3Hook(orbit_conn_id={self.orbit_conn_id!r})"

    @cached_property
    def settings(self) -> ConnectionSettings:
        """The validated connection settings (read from Airflow once per hook). No connection
        (None, or an id Airflow does not know) means the standard AWS credential chain."""
        conn = self._connection()
        if conn is None:
            return ConnectionSettings(conn_id=self.orbit_conn_id or "<credential chain>")
        return settings_from_connection(conn)

    def _connection(self) -> Any:
        """The Airflow connection, or None (with the amazon provider's warning) when there is
        none to read."""
        if self.orbit_conn_id is None:
            self.log.info(
                "No connection id given: boto3's standard credential chain is used "
                "(environment, web identity, container or instance role)."
            )
            return None
        try:
            return self.get_connection(self.orbit_conn_id)
        except AirflowNotFoundException:
            self.log.warning(
                "Connection %r is not defined: falling back to boto3's standard credential "
                "chain (environment, web identity, container or instance role).",
                self.orbit_conn_id,
            )
            return None

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
            conn = self._connection()
        except Exception:
            return []
        if conn is None:
            return []
        extras = getattr(conn, "extra_dejson", {}) or {}
        values = [conn.password, extras.get("aws_session_token"),
                  extras.get("aws_secret_access_key")]  # fmt: skip
        return [v for v in values if isinstance(v, str) and len(v) >= 4]

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form: which standard fields are hidden, relabelled, and their hints
        (the same as the provider info's declarative `ui-field-behaviour`)."""
        from orbit_provider.hooks.connection_extras import ui_field_behaviour

        form = ui_field_behaviour()
        return {
            "hidden_fields": form["hidden-fields"],
            "relabeling": form["relabeling"],
            "placeholders": form["placeholders"],
        }


def _scrub(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message
