"""OrbitObjectSensor: waits until an object (a list of them, or enough under a prefix) is ready."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orbit_provider.s3.conditions import OBJECT_ARGUMENTS, ObjectCondition, object_condition
from orbit_provider.s3.urls import bucket_and_key, is_s3_url
from orbit_provider.sensors.base import OrbitBaseSensor, is_templated, stand_in
from orbit_provider.triggers.object import OrbitObjectTrigger

# What an argument not known before execute stands in as when the DAG is parsed.
_STAND_INS = {"key": "stand-in-key", "prefix": "stand-in/", "newer_than_version": "stand-in"}


class OrbitObjectSensor(OrbitBaseSensor):
    """Waits for a key, every key of a list, or at least `min_count` objects under a prefix.

    Optionally the objects must be at least `min_size` bytes, have no unfinished multipart
    upload (`no_pending_upload`), or (for one key) have a version newer than
    `newer_than_version`. Returns a summary: the bucket, how many objects, their total size,
    and per key its size, ETag, version id and last-modified time (the first 100).

    :param bucket: the bucket to watch (templated).
    :param key: one key (templated). Give exactly one of key, keys and prefix.
    :param keys: a list of keys, all of which must be ready (templated).
    :param prefix: a prefix under which at least `min_count` objects must exist (templated).
    :param min_count: with `prefix`, how many objects are needed (default 1).
    :param min_size: the smallest size in bytes an object must have to count.
    :param no_pending_upload: also wait until no multipart upload of the key (or under the
        prefix) is unfinished, so a half-written multipart object is not taken as done.
    :param newer_than_version: with `key`, wait for a version newer than this id (templated).
    :param wildcard_match: `key` is a glob pattern (``*`` also spans ``/``): wait for at least
        `min_count` matching objects (the listing starts at the pattern's literal prefix).
    :param use_regex: `key` is a regular expression (re.fullmatch), likewise.
    :param max_size: the largest size in bytes an object may have to count.
    :param min_age: an object counts once it was last modified at least this many seconds
        ago (settled).
    :param max_age: an object counts only if it was last modified at most this many seconds
        ago (fresh).
    :param orbit_conn_id: the Airflow connection to use.
    :param deferrable: wait in the triggerer (see OrbitObjectTrigger) instead of a worker.
    Other arguments (poke_interval, timeout, mode="poke"|"reschedule", soft_fail, ...) are
    BaseSensorOperator's.
    """

    template_fields: Sequence[str] = ("bucket", "key", "keys", "prefix", "newer_than_version")
    ui_color = "#d9ecf7"
    trigger_class = OrbitObjectTrigger

    def __init__(
        self,
        *,
        bucket: str,
        key: str | None = None,
        keys: list[str] | None = None,
        prefix: str | None = None,
        min_count: int = 1,
        min_size: int | None = None,
        no_pending_upload: bool = False,
        newer_than_version: str | None = None,
        wildcard_match: bool = False,
        use_regex: bool = False,
        max_size: int | None = None,
        min_age: float | None = None,
        max_age: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(bucket=bucket, **kwargs)
        self.wildcard_match = wildcard_match
        self.use_regex = use_regex
        self.max_size = max_size
        self.min_age = min_age
        self.max_age = max_age
        self.key = key
        self.keys = keys
        self.prefix = prefix
        self.min_count = min_count
        self.min_size = min_size
        self.no_pending_upload = no_pending_upload
        self.newer_than_version = newer_than_version
        self.validate(rendered=False)

    def build_condition(self, *, rendered: bool) -> ObjectCondition:
        """ObjectReady, KeysReady or PrefixReady, after which of key, keys, prefix is given."""
        # glob / regex come from `key` with wildcard_match / use_regex, not as arguments
        arguments = {name: getattr(self, name, None) for name in OBJECT_ARGUMENTS}
        for name in ("key", "prefix"):  # s3://bucket/key names the sensor's bucket again
            arguments[name] = self._without_url(arguments[name], name)
        if isinstance(arguments["keys"], list | tuple):
            arguments["keys"] = [self._without_url(k, "keys") for k in arguments["keys"]]
        arguments.pop("glob", None)
        arguments.pop("regex", None)
        if not rendered:
            # values not known before execute (XComArgs, mapped arguments) stand in as a value
            # of their shape; a template rendering to a list is one key until then
            for name, placeholder in _STAND_INS.items():
                arguments[name] = stand_in(arguments[name], placeholder)
            if isinstance(self.keys, list | tuple):
                arguments["keys"] = stand_in(self.keys, "stand-in-key")
            elif is_templated(self.keys):
                arguments["keys"] = ["stand-in-key"]
        return object_condition(
            wildcard_match=self.wildcard_match, use_regex=self.use_regex, **arguments
        )

    def _without_url(self, value: Any, name: str) -> Any:
        """The key of an ``s3://`` URL in `bucket` (another bucket is refused)."""
        if not is_s3_url(value):
            return value
        bucket = self.bucket if isinstance(self.bucket, str) and not is_templated(
            self.bucket) else None  # fmt: skip
        return bucket_and_key(bucket, value, name)[1]

    def summarize(self, details: dict[str, Any]) -> dict[str, Any]:
        if self.key is not None and not (self.wildcard_match or self.use_regex):
            # one object: the same shape as for a list of keys
            found = {k: v for k, v in details.items() if k != "pending_uploads"}
            return {"bucket": self.bucket, "count": 1, "total_size": found.get("size", 0),
                    "keys": [found]}
        return {"bucket": self.bucket, **details}
