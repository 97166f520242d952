"""The extras of an `orbit_s3` connection, declared once.

`EXTRAS` drives the parser (`hooks/connection.py`), the connection form (`conn-fields` in
`get_provider_info()`) and the README's table of extras, so the three cannot drift apart.
`python -m orbit_provider.hooks.connection_extras` prints that table; with `--update README.md`
it rewrites the table in the README in place. Standard library only: Airflow's providers
manager imports this module to build the form.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["string", "boolean", "integer", "size", "number", "json", "verify"]

_MIB = 1024 * 1024
_GIB = 1024 * _MIB
_MIN_PART = 5 * _MIB  # S3's smallest part, and the smallest chunk_size / copy threshold

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 10**6, "mb": 10**6, "mib": 1024**2, "mi": 1024**2,
    "g": 10**9, "gb": 10**9, "gib": 1024**3, "gi": 1024**3,
    "t": 10**12, "tb": 10**12, "tib": 1024**4, "ti": 1024**4,
}  # fmt: skip


def parse_bool(value: Any) -> bool:
    """A JSON boolean or "true"/"false" (also 1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a boolean (use true or false)")


def parse_int(value: Any) -> int:
    """A JSON integer or a string of digits."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"{value!r} is not an integer")


def parse_size(value: Any) -> int:
    """Bytes as an int or a string with an optional unit: 8388608, "8MiB", "16 MB"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE_RE.match(value) if isinstance(value, str) else None
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"{value!r} is not a size in bytes (e.g. 8388608 or '8MiB')")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_number(value: Any) -> float:
    """A JSON number or a string holding one."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number") from None


def parse_str(value: Any) -> str:
    """A non-empty string, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} must be a non-empty string")
    return value.strip()


def parse_json(value: Any) -> dict[str, Any]:
    """A JSON object, given as one or as a string holding one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{value!r} is not JSON") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"{value!r} is not a JSON object")
    return dict(value)


def parse_verify(value: Any) -> bool | str:
    """TLS verification as the amazon provider's `verify`: a boolean, or a CA bundle path."""
    try:
        return parse_bool(value)
    except ValueError:
        return parse_str(value)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "string": parse_str,
    "boolean": parse_bool,
    "integer": parse_int,
    "size": parse_size,
    "number": parse_number,
    "json": parse_json,
    "verify": parse_verify,
}
_FORM_TYPES: dict[str, Any] = {
    "string": ["string", "null"],
    "boolean": "boolean",
    "integer": ["integer", "null"],
    "size": ["integer", "null"],
    "number": ["number", "null"],
    "json": ["object", "null"],
    "verify": ["string", "null"],  # "false", or a CA bundle path; empty: verify
}


@dataclass(frozen=True)
class ConnectionExtra:
    """One extra: how it is parsed, shown in the form, documented, and where it goes.

    :param name: the key in the connection's extra JSON (and the form field's name).
    :param kind: how the value is parsed; "size" takes bytes or a string like "8MiB".
    :param label: the form field's label.
    :param description: one line for the form and the README.
    :param default: what applies when the extra is not set (None: nothing is set).
    :param config_field: the S3Config field this extra sets on its own, if any.
    :param maps_to: where the extra goes when it is not one S3Config field on its own.
    :param default_text: the README's words for a None default ("AWS", "no limit", ...).
    :param secret: a password field in the form; never echoed in errors.
    :param schema: JSON-schema keys the form adds to the field's type (minimum, enum, ...).
    :param placeholder: an example the empty form field shows.
    """

    name: str
    kind: Kind
    label: str
    description: str
    default: Any = None
    config_field: str | None = None
    maps_to: str | None = None
    default_text: str | None = None
    secret: bool = False
    schema: Mapping[str, Any] = field(default_factory=dict)
    placeholder: str | None = None

    @property
    def target(self) -> str:
        """Where the value ends up, e.g. "S3Config.region" or "AssumeRole.role_arn"."""
        return self.maps_to or f"S3Config.{self.config_field}"

    def parse(self, value: Any) -> Any:
        """The value as the kind says; ValueError naming what is wrong (not the extra)."""
        return _PARSERS[self.kind](value)

    def form_field(self) -> dict[str, Any]:
        """The field of `conn-fields` (Airflow's declarative connection form)."""
        schema: dict[str, Any] = {"type": _FORM_TYPES[self.kind]}
        if self.secret:
            schema["format"] = "password"
        if self.kind == "boolean" and self.default is not None:
            schema["default"] = self.default  # a checkbox always has a value: show the real one
        schema.update(self.schema)
        return {"label": self.label, "description": self.description, "schema": schema}

    def default_markdown(self) -> str:
        """The default as the README shows it."""
        if self.default is None:
            return self.default_text or "none"
        if isinstance(self.default, bool):
            return f"`{str(self.default).lower()}`"
        if self.kind == "size":
            return _size_text(self.default)
        return f"`{self.default}`"


def _size_text(size: int) -> str:
    for unit, factor in (("GiB", _GIB), ("MiB", _MIB)):
        if size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


EXTRAS: tuple[ConnectionExtra, ...] = (
    ConnectionExtra(
        "region_name", "string", "Region",
        "AWS region of the bucket.",
        config_field="region", default_text="from the AWS chain",
    ),
    ConnectionExtra(
        "endpoint_url", "string", "Endpoint URL",
        "For S3-compatible stores, e.g. http://127.0.0.1:8333. Empty for AWS.",
        config_field="endpoint", default_text="AWS", schema={"format": "url"},
    ),
    ConnectionExtra(
        "verify", "verify", "Verify TLS certificates",
        "true, false (a self-signed store) or the path of a CA bundle; botocore and the "
        "fast part and range requests both follow it.",
        default=True, config_field="verify",
    ),
    ConnectionExtra(
        "botocore_config", "json", "botocore Config",
        'More botocore Config settings, e.g. {"signature_version": "unsigned"} or '
        '{"proxies": {"https": "http://proxy:3128"}}; on an aws connection config_kwargs is the '
        "same. Retries, pools and checksums stay orbit's own.",
        maps_to="S3Config.botocore_config",
    ),
    ConnectionExtra(
        "force_path_style", "boolean", "Path-style addressing",
        "Put the bucket in the URL path, as most S3-compatible stores need.",
        default=False, config_field="force_path_style",
    ),
    ConnectionExtra(
        "bucket", "string", "Default bucket",
        "Used when an operator gives none, and by the connection test.",
        maps_to="ConnectionSettings.bucket",
    ),
    ConnectionExtra(
        "aws_session_token", "string", "Session token",
        "Token of temporary credentials; needs the access key in login and password.",
        maps_to="Credentials.session_token", secret=True,
    ),
    ConnectionExtra(
        "profile_name", "string", "AWS profile",
        "A named profile of the AWS config files; not together with login and password.",
        config_field="profile",
    ),
    ConnectionExtra(
        "role_arn", "string", "Role ARN",
        "Assumed with STS and refreshed automatically.",
        maps_to="AssumeRole.role_arn",
    ),
    ConnectionExtra(
        "external_id", "string", "External ID (role)",
        "The external id the role's trust policy asks for (needs role_arn).",
        maps_to="AssumeRole.external_id",
    ),
    ConnectionExtra(
        "role_session_name", "string", "Role session name",
        "Session name of the assumed role, seen in CloudTrail (needs role_arn).",
        default="orbit-provider", maps_to="AssumeRole.session_name",
    ),
    ConnectionExtra(
        "sts_endpoint_url", "string", "STS endpoint URL",
        "The STS endpoint the role is assumed through, e.g. a regional or private one.",
        maps_to="ConnectionSettings.sts_endpoint_url", default_text="AWS",
        schema={"format": "url"},
    ),
    ConnectionExtra(
        "assume_role_method", "string", "Assume role method",
        "How role_arn is assumed: assume_role (STS, with the connection's identity) or "
        "assume_role_with_web_identity (a web identity token file, e.g. EKS IRSA).",
        default="assume_role", maps_to="ConnectionSettings.assume_role_method",
        schema={"enum": [None, "assume_role", "assume_role_with_web_identity"]},
    ),
    ConnectionExtra(
        "assume_role_kwargs", "json", "Assume role arguments",
        "More STS arguments: ExternalId, RoleSessionName, DurationSeconds (and Policy, "
        "PolicyArns, ProviderId with web identity).",
        maps_to="ConnectionSettings.assume_role_kwargs",
    ),
    ConnectionExtra(
        "assume_role_with_web_identity_token_file", "string", "Web identity token file",
        "The token file of assume_role_with_web_identity.",
        maps_to="ConnectionSettings.web_identity_token_file",
        default_text="AWS_WEB_IDENTITY_TOKEN_FILE",
    ),
    ConnectionExtra(
        "assume_role_with_web_identity_federation", "string", "Web identity federation",
        "Where the web identity token comes from: file (the only one supported).",
        default="file", maps_to="ConnectionSettings.web_identity_federation",
        schema={"enum": [None, "file"]},
    ),
    ConnectionExtra(
        "aws_account_id", "string", "AWS account id",
        "The 12-digit account of the connection (S3 Batch Operations jobs run in it).",
        maps_to="ConnectionSettings.account_id",
    ),
    ConnectionExtra(
        "chunk_size", "size", "Part size (bytes)",
        "Part size of multipart uploads and smallest range of downloads (5 MiB to 5 GiB); "
        "unset: 5 MiB, grown up to 16 MiB for large uploads.",
        default_text="automatic", config_field="chunk_size",
        schema={"minimum": _MIN_PART},
    ),
    ConnectionExtra(
        "parallel_operations", "integer", "Parallel parts",
        "Most parts or ranges of one transfer in flight at once (downloads run at it, uploads "
        "start at 8 and add more while they pay).",
        default=32, config_field="parallel_operations", schema={"minimum": 1},
    ),
    ConnectionExtra(
        "max_bandwidth", "size", "Bandwidth limit (bytes/s)",
        "Bytes per second for one transfer.",
        config_field="max_bandwidth", default_text="no limit", schema={"minimum": 1},
    ),
    ConnectionExtra(
        "timeout_seconds", "number", "Timeout (s)",
        "Read timeout of a request in seconds (the connect timeout is at most 60).",
        default=300, config_field="timeout_seconds",
    ),
    ConnectionExtra(
        "max_retries", "integer", "Retries",
        "Retries of a retryable failure (throttling, 5xx, timeouts, dropped connections).",
        default=3, config_field="max_retries", schema={"minimum": 0},
    ),
    ConnectionExtra(
        "require_verification", "boolean", "Require verified downloads",
        "Fail a download, before writing anything, when only the object's size can be checked.",
        default=False, config_field="require_verification",
    ),
    ConnectionExtra(
        "use_accelerate_endpoint", "boolean", "S3 Transfer Acceleration",
        "Send requests to BUCKET.s3-accelerate.amazonaws.com (AWS only; the bucket must have "
        "acceleration enabled).",
        default=False, config_field="use_accelerate_endpoint",
    ),
    ConnectionExtra(
        "circuit_breaker_timeout", "number", "Breaker probe interval (s)",
        "While the store fails most requests, work pauses and one probe is sent this often.",
        default=30.0, config_field="circuit_breaker_timeout",
    ),
    ConnectionExtra(
        "circuit_breaker_open_cycles", "integer", "Breaker probes before giving up",
        "Failed probes in a row after which paused work fails with CircuitOpen.",
        default=3, config_field="circuit_breaker_open_cycles", schema={"minimum": 1},
    ),
    ConnectionExtra(
        "verify_checksums", "boolean", "Verify checksums",
        "Check a checksum of checksum_algorithm on every part and object (Content-MD5 and "
        "ETag on stores without).",
        default=True, config_field="verify_checksums",
    ),
    ConnectionExtra(
        "checksum_algorithm", "string", "Checksum algorithm",
        "The checksum uploads send and the store verifies: CRC32, CRC32C, CRC64NVME, SHA1 "
        "or SHA256.",
        default="CRC32", config_field="checksum_algorithm",
        schema={"enum": [None, "CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]},
    ),
    ConnectionExtra(
        "checksum_type", "string", "Checksum type",
        "A multipart object's checksum: FULL_OBJECT (the whole file's) or COMPOSITE (of the "
        "parts' checksums).",
        config_field="checksum_type", default_text="FULL_OBJECT; COMPOSITE for SHA1 and SHA256",
        schema={"enum": [None, "FULL_OBJECT", "COMPOSITE"]},
    ),
    ConnectionExtra(
        "direct_io", "boolean", "Direct I/O for large downloads",
        "Write downloads of 32 MiB and more with O_DIRECT (Linux), past the page cache.",
        default=True, config_field="direct_io",
    ),
    ConnectionExtra(
        "multipart_copy_threshold", "size", "Multipart copy threshold (bytes)",
        "Objects larger than this are copied in parts (5 MiB to 5 GiB).",
        default=5 * _GIB, config_field="multipart_copy_threshold",
        schema={"minimum": _MIN_PART, "maximum": 5 * _GIB},
    ),
    ConnectionExtra(
        "storage_class", "string", "Storage class",
        "Storage class of writes, e.g. STANDARD_IA, INTELLIGENT_TIERING or GLACIER.",
        default="STANDARD", config_field="storage_class",
    ),
    ConnectionExtra(
        "server_side_encryption", "string", "Server-side encryption",
        "Encryption of writes: AES256, aws:kms or aws:kms:<key id>.",
        maps_to="S3Config.server_side_encryption",
        schema={"enum": [None, "AES256", "aws:kms"]},
    ),
    ConnectionExtra(
        "sse_kms_key_id", "string", "KMS key id",
        "KMS key of aws:kms encryption (alone, it implies aws:kms).",
        maps_to="S3Config.server_side_encryption", default_text="the AWS managed key",
    ),
)  # fmt: skip

EXTRAS_BY_NAME: dict[str, ConnectionExtra] = {extra.name: extra for extra in EXTRAS}


# Examples the empty form fields show (the extras with an obvious example).
_PLACEHOLDERS = {
    "region_name": "us-east-1",
    "endpoint_url": "http://127.0.0.1:8333 (empty for AWS)",
    "verify": "false, or /etc/ssl/certs/minio-ca.pem",
    "botocore_config": '{"signature_version": "unsigned"}',
    "bucket": "my-bucket",
    "profile_name": "default",
    "role_arn": "arn:aws:iam::123456789012:role/orbit",
    "sts_endpoint_url": "https://sts.eu-west-1.amazonaws.com",
    "assume_role_kwargs": '{"DurationSeconds": 3600}',
    "assume_role_with_web_identity_token_file": "/var/run/secrets/eks.amazonaws.com/"
    "serviceaccount/token",
    "aws_account_id": "123456789012",
    "chunk_size": "16MiB",
    "max_bandwidth": "100MB",
    "sse_kms_key_id": "alias/orbit",
}
_STANDARD_FIELDS = {
    "hidden-fields": ["host", "schema", "port"],
    "relabeling": {"login": "AWS Access Key ID", "password": "AWS Secret Access Key"},
    "placeholders": {
        "login": "empty: the standard AWS credential chain (env, IRSA, ECS, instance role)",
        "password": "secret access key",
    },
}


def placeholders() -> dict[str, str]:
    """Placeholder text of the login and password fields and of the extras with an example."""
    found = dict(_STANDARD_FIELDS["placeholders"])
    for extra in EXTRAS:
        example = extra.placeholder or _PLACEHOLDERS.get(extra.name)
        if example:
            found[extra.name] = example
    return found


def ui_field_behaviour() -> dict[str, Any]:
    """`ui-field-behaviour` of the provider info: hidden and relabelled standard fields, and
    the placeholders (Airflow 3.2+ reads it with `conn-fields`)."""
    return {
        "hidden-fields": list(_STANDARD_FIELDS["hidden-fields"]),
        "relabeling": dict(_STANDARD_FIELDS["relabeling"]),
        "placeholders": placeholders(),
    }


def conn_fields() -> dict[str, dict[str, Any]]:
    """`conn-fields` of the `orbit_s3` connection type, one per extra, in table order."""
    return {extra.name: extra.form_field() for extra in EXTRAS}


README_START = "<!-- connection-extras:start -->"
README_END = "<!-- connection-extras:end -->"


def markdown_table() -> str:
    """The README's table of extras (without the markers around it)."""
    lines = [
        "| extra | type | default | sets | meaning |",
        "|---|---|---|---|---|",
    ]
    for extra in EXTRAS:
        lines.append(
            f"| `{extra.name}` | {extra.kind} | {extra.default_markdown()} | "
            f"`{extra.target}` | {_markdown_text(extra.description)} |"
        )
    return "\n".join(lines) + "\n"


def _markdown_text(text: str) -> str:
    """Plain text safe in a table cell: no column breaks, no text read as an HTML tag."""
    return text.replace("|", "&#124;").replace("<", "&lt;")


def readme_block(text: str) -> str:
    """The part of a README between the markers (ValueError when they are missing)."""
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {README_START!r} ... {README_END!r} block")
    return text[start + len(README_START):end].strip("\n") + "\n"


def update_readme(path: str | Path) -> bool:
    """Rewrite the table between the markers in `path`; True when the file changed."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    readme_block(text)  # raises when the markers are missing
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_START}\n{markdown_table()}{README_END}{tail}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    """Print the table, or with `--update README.md` rewrite it in that file."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--update"] and len(args) == 2:
        changed = update_readme(args[1])
        print(f"{args[1]}: {'updated' if changed else 'already up to date'}")
        return 0
    if args:
        print("usage: python -m orbit_provider.hooks.connection_extras [--update README.md]",
              file=sys.stderr)  # fmt: skip
        return 2
    print(markdown_table(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
