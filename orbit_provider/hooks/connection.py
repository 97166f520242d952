"""Airflow Connection -> S3Config (+ assumed role): a pure mapping, testable without a database.

An `orbit_s3` connection holds the access key id as login and the secret as password; every
other setting is an extra, declared once in `connection_extras.EXTRAS` (which also builds the
form and the README's table). An amazon-provider `aws` connection works too, with its common
extras translated. Unknown extras and bad values raise `ConnectionConfigError` naming the
extra. Secret values (password, session token, legacy secret extra) are never echoed.

The amazon provider's extras mean the same here: `verify`, `botocore_config` / `config_kwargs`
(botocore Config settings; those orbit owns, retries and pools, are left out), `region_name`,
`endpoint_url` (and `service_config`'s s3 and sts endpoints), `role_arn` with
`assume_role_method` assume_role or assume_role_with_web_identity (token file, "file"
federation), `assume_role_kwargs`, `aws_account_id`. What cannot work here (SAML, Google
federation, MFA arguments) is refused naming the extra.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orbit_provider.hooks.connection_extras import EXTRAS, EXTRAS_BY_NAME, parse_bool
from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import Credentials, S3Config, ServerSideEncryption
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.wire.assume_role import AssumeRole, assume_role_session
from orbit_provider.s3.wire.log_redaction import redact
from orbit_provider.s3.wire.web_identity import (
    WEB_IDENTITY_ARGS,
    token_file_for,
    web_identity_session,
)

ORBIT_CONN_TYPE = "orbit_s3"
AWS_CONN_TYPE = "aws"

# Every orbit_s3 extra, its parser and target, come from the one table in connection_extras.
# The S3Config field each extra sets on its own (the others are handled below by name).
CONFIG_EXTRAS: dict[str, str] = {e.name: e.config_field for e in EXTRAS if e.config_field}
ORBIT_EXTRAS = frozenset(EXTRAS_BY_NAME)
# Amazon-provider extras also understood on an `aws` connection (see `_translate_aws`).
AWS_EXTRAS = frozenset(
    {"service_config", "config_kwargs", "aws_access_key_id", "aws_secret_access_key"}
)
WEB_IDENTITY = "assume_role_with_web_identity"
ROLE_METHODS = ("assume_role", WEB_IDENTITY)
_ACCOUNT_ID_LENGTH = 12
SECRET_EXTRAS = frozenset({e.name for e in EXTRAS if e.secret} | {"aws_secret_access_key"})


class ConnectionConfigError(ConfigError):
    """A connection field or extra that cannot be used; the message names it."""


_PROBE_BUCKET = "orbit-probe"  # a valid name used to validate fields before a bucket is known


@dataclass(frozen=True)
class ConnectionSettings:
    """What a connection says: S3Config fields, a default bucket, an optional role to assume."""

    conn_id: str
    config_fields: Mapping[str, Any] = field(default_factory=dict)
    bucket: str | None = None
    assume_role: AssumeRole | None = None
    sts_endpoint_url: str | None = None
    #: "assume_role" (STS AssumeRole) or "assume_role_with_web_identity" (a token file)
    assume_role_method: str = "assume_role"
    #: the STS arguments given in the extra assume_role_kwargs (as given)
    assume_role_kwargs: Mapping[str, Any] | None = None
    web_identity_token_file: str | None = None
    web_identity_federation: str = "file"
    #: the connection's AWS account (extra aws_account_id), for S3 Batch Operations jobs
    account_id: str | None = None

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.config_fields.items() if k != "credentials"}
        creds = self.config_fields.get("credentials")
        return redact(  # a proxy URL in botocore_config may carry a password
            f"ConnectionSettings(conn_id={self.conn_id!r}, bucket={self.bucket!r}, "
            f"credentials={creds!r}, role_arn="
            f"{self.assume_role.role_arn if self.assume_role else None!r}, fields={shown!r})"
        )

    __str__ = __repr__

    @property
    def uses_credential_chain(self) -> bool:
        """True when neither keys nor a profile are set: the standard AWS chain decides."""
        return self.config_fields.get("credentials") is None and not self.config_fields.get(
            "profile"
        )

    def config(self, bucket: str | None = None, **overrides: Any) -> S3Config:
        """The S3Config for `bucket` (default: the connection's), with per-call overrides."""
        bucket = bucket or self.bucket
        if not bucket:
            raise ConfigError(
                f"bucket: no bucket given and connection {self.conn_id!r} has no 'bucket' extra"
            )
        fields = dict(self.config_fields)
        fields.update(overrides)
        try:
            return S3Config(bucket=bucket, **fields)
        except TypeError as exc:  # an override that is not an S3Config field
            raise ConfigError(f"overrides: {exc}") from None

    def boto_session(self) -> Any:
        """A boto3 Session with assumed-role credentials, or None when no role is set."""
        if self.assume_role is None:
            return None
        if self.assume_role_method == WEB_IDENTITY:
            role = self.assume_role
            extra_args = {"RoleSessionName": role.session_name,
                          "DurationSeconds": role.duration_seconds,
                          **_web_identity_args(self.assume_role_kwargs)}  # fmt: skip
            return web_identity_session(
                role.role_arn,
                self.web_identity_token_file,
                region=self.config_fields.get("region"),
                sts_endpoint=self.sts_endpoint_url,
                extra_args=extra_args,
            )
        return assume_role_session(
            self.assume_role,
            credentials=self.config_fields.get("credentials"),
            profile=self.config_fields.get("profile"),
            region=self.config_fields.get("region"),
            sts_endpoint=self.sts_endpoint_url,
        )

    def client(self, bucket: str | None = None, **overrides: Any) -> S3Client:
        """An S3Client for `bucket` built from this connection."""
        return S3Client(self.config(bucket, **overrides), boto_session=self.boto_session())


def settings_from_connection(conn: Any) -> ConnectionSettings:
    """Map an Airflow Connection (orbit_s3 or aws) to ConnectionSettings, validating everything."""
    conn_id = getattr(conn, "conn_id", None) or "<unnamed>"
    conn_type = (getattr(conn, "conn_type", None) or ORBIT_CONN_TYPE).replace("-", "_")
    if conn_type not in (ORBIT_CONN_TYPE, AWS_CONN_TYPE):
        raise ConnectionConfigError(
            f"connection {conn_id!r}: conn_type {conn_type!r} is not supported "
            f"(use {ORBIT_CONN_TYPE!r} or {AWS_CONN_TYPE!r})"
        )
    extras = _extras(conn, conn_id)
    legacy_keys = None
    if conn_type == AWS_CONN_TYPE:
        extras, legacy_keys = _translate_aws(extras, conn_id)
    unknown = sorted(set(extras) - ORBIT_EXTRAS)
    if unknown:
        allowed = ORBIT_EXTRAS | (AWS_EXTRAS if conn_type == AWS_CONN_TYPE else frozenset())
        raise ConnectionConfigError(
            f"connection {conn_id!r}: unknown extra {unknown[0]!r} "
            f"(accepted: {', '.join(sorted(allowed))})"
        )
    host = getattr(conn, "host", None)
    if host:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: field 'host' is not used; put the endpoint in the extra "
            "'endpoint_url'"
        )
    values = {}
    for name, raw in extras.items():
        if raw is None or raw == "":
            continue
        try:
            values[name] = EXTRAS_BY_NAME[name].parse(raw)
        except ValueError as exc:
            shown = "must be a non-empty string" if name in SECRET_EXTRAS else exc
            raise ConnectionConfigError(
                f"connection {conn_id!r}: extra {name!r}: {shown}"
            ) from None

    values = _botocore_settings(conn_id, values)
    fields: dict[str, Any] = {}
    if values.get("botocore_config"):
        fields["botocore_config"] = values["botocore_config"]
        _probe(conn_id, "botocore_config", botocore_config=values["botocore_config"])
    for extra, field_name in CONFIG_EXTRAS.items():
        if extra in values:
            fields[field_name] = values[extra]
            _probe(conn_id, extra, **{field_name: values[extra]})
    sse = _encryption(conn_id, values)
    if sse is not None:
        fields["server_side_encryption"] = sse
    credentials = _credentials(conn, conn_id, values, legacy_keys)
    if credentials is not None:
        if "profile" in fields:
            raise ConnectionConfigError(
                f"connection {conn_id!r}: extra 'profile_name' conflicts with the access key in "
                "login/password; use one of them"
            )
        fields["credentials"] = credentials
    bucket = values.get("bucket")
    if bucket is not None:
        _probe(conn_id, "bucket", bucket=bucket)
    if "sts_endpoint_url" in values:
        _probe(conn_id, "sts_endpoint_url", endpoint=values["sts_endpoint_url"])
    method, web_token_file = _role_method(conn_id, values)
    return ConnectionSettings(
        conn_id=conn_id,
        config_fields=fields,
        bucket=bucket,
        assume_role=_role(conn_id, values),
        sts_endpoint_url=values.get("sts_endpoint_url"),
        assume_role_method=method,
        assume_role_kwargs=values.get("assume_role_kwargs"),
        web_identity_token_file=web_token_file,
        web_identity_federation=values.get("assume_role_with_web_identity_federation", "file"),
        account_id=_account_id(conn_id, values.get("aws_account_id")),
    )


def _extras(conn: Any, conn_id: str) -> dict[str, Any]:
    try:
        extras = conn.extra_dejson if hasattr(conn, "extra_dejson") else {}
    except Exception:
        raise ConnectionConfigError(f"connection {conn_id!r}: 'extra' is not valid JSON") from None
    if not isinstance(extras, Mapping):
        raise ConnectionConfigError(f"connection {conn_id!r}: 'extra' must be a JSON object")
    # The UI stores custom form fields as extra__<conn_type>__<name> in older Airflow versions.
    out: dict[str, Any] = {}
    for key, value in extras.items():
        for prefix in (f"extra__{ORBIT_CONN_TYPE}__", f"extra__{AWS_CONN_TYPE}__"):
            if key.startswith(prefix):
                key = key[len(prefix):]
        out[key] = value
    return out


def _translate_aws(extras: dict[str, Any], conn_id: str) -> tuple[dict[str, Any], tuple | None]:
    """Turn the amazon provider's extras into ours (+ legacy keys); refuse what we cannot honour."""
    out = {k: v for k, v in extras.items() if k not in AWS_EXTRAS}

    def bad(extra: str, what: str) -> ConnectionConfigError:
        return ConnectionConfigError(f"connection {conn_id!r}: extra {extra!r}: {what}")

    service_config = extras.get("service_config") or {}
    if not isinstance(service_config, Mapping):
        raise bad("service_config", "must be a JSON object")
    for service, settings in service_config.items():
        if not isinstance(settings, Mapping):
            raise bad("service_config", f"{service!r} must map to a JSON object")
        for key, value in settings.items():
            if service == "s3" and key == "endpoint_url":
                out.setdefault("endpoint_url", value)
            elif service == "sts" and key == "endpoint_url":
                out.setdefault("sts_endpoint_url", value)
            else:
                raise bad("service_config", f"{service}.{key} is not supported "
                          "(s3.endpoint_url, sts.endpoint_url)")
    config_kwargs = extras.get("config_kwargs")
    if config_kwargs:  # the amazon provider's name of botocore_config (which wins)
        try:
            given = EXTRAS_BY_NAME["botocore_config"].parse(config_kwargs)
            own = EXTRAS_BY_NAME["botocore_config"].parse(out.get("botocore_config") or {})
        except ValueError as exc:
            raise bad("config_kwargs", str(exc)) from None
        out["botocore_config"] = {**given, **own}
    legacy = None
    if extras.get("aws_access_key_id") or extras.get("aws_secret_access_key"):
        legacy = (extras.get("aws_access_key_id"), extras.get("aws_secret_access_key"))
    return out, legacy


# botocore Config settings that are orbit's own: its retry layer, its pool sizes
_OWN_BOTOCORE = frozenset({"retries", "max_pool_connections"})


def _botocore_settings(conn_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Split the botocore Config settings: those that are S3Config fields become their extras
    (s3.addressing_style, s3.use_accelerate_endpoint, read_timeout, region_name; an extra of
    its own wins), orbit's own are dropped, the rest stay botocore settings."""
    raw = values.get("botocore_config")
    if not raw:
        return values
    out = dict(values)
    settings = {k: v for k, v in raw.items() if k not in _OWN_BOTOCORE}
    if "read_timeout" in settings:
        out.setdefault("timeout_seconds", EXTRAS_BY_NAME["timeout_seconds"].parse(
            settings.pop("read_timeout")))
    if "region_name" in settings:
        out.setdefault("region_name", settings.pop("region_name"))
    s3 = settings.get("s3")
    if isinstance(s3, Mapping):
        s3 = dict(s3)
        style = s3.pop("addressing_style", None)
        if style is not None:
            if style not in ("path", "virtual", "auto"):
                raise ConnectionConfigError(
                    f"connection {conn_id!r}: extra 'botocore_config': s3.addressing_style "
                    f"{style!r} is not 'path', 'virtual' or 'auto'"
                )
            out.setdefault("force_path_style", style == "path")
        if "use_accelerate_endpoint" in s3:
            out.setdefault("use_accelerate_endpoint", parse_bool(s3.pop("use_accelerate_endpoint")))
        settings["s3"] = s3
        if not s3:
            del settings["s3"]
    out["botocore_config"] = settings
    return out


def _role_method(conn_id: str, values: dict[str, Any]) -> tuple[str, str | None]:
    """The assume-role method and, for web identity, its token file (checked now)."""
    method = values.get("assume_role_method", "assume_role")
    if method not in ROLE_METHODS:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra 'assume_role_method': {method!r} is not supported "
            f"({', '.join(ROLE_METHODS)}; SAML needs an identity provider orbit cannot reach)"
        )
    federation = values.get("assume_role_with_web_identity_federation", "file")
    if federation != "file":
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra 'assume_role_with_web_identity_federation': "
            f"{federation!r} is not supported (only 'file': a token file such as EKS mounts)"
        )
    kwargs = values.get("assume_role_kwargs") or {}
    if method != WEB_IDENTITY:
        return method, values.get("assume_role_with_web_identity_token_file")
    if "role_arn" not in values:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra 'assume_role_method': {WEB_IDENTITY} needs the "
            "extra 'role_arn'"
        )
    if "external_id" in values or "ExternalId" in kwargs:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra 'external_id': not used by {WEB_IDENTITY}"
        )
    try:
        _web_identity_args(kwargs)
        token_file = token_file_for(values.get("assume_role_with_web_identity_token_file"))
    except ConfigError as exc:
        raise ConnectionConfigError(f"connection {conn_id!r}: extra {exc}") from None
    return method, token_file


def _web_identity_args(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """assume_role_kwargs an AssumeRoleWithWebIdentity call takes as they are."""
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - WEB_IDENTITY_ARGS)
    if unknown:
        raise ConfigError(
            f"'assume_role_kwargs': {unknown[0]!r} is not supported with {WEB_IDENTITY} "
            f"({', '.join(sorted(WEB_IDENTITY_ARGS))})"
        )
    return kwargs


def _account_id(conn_id: str, account_id: str | None) -> str | None:
    if account_id is None:
        return None
    if not (account_id.isdigit() and len(account_id) == _ACCOUNT_ID_LENGTH):
        raise ConnectionConfigError(
            f"connection {conn_id!r}: extra 'aws_account_id': {account_id!r} is not a "
            "12-digit AWS account id"
        )
    return account_id


def _probe(conn_id: str, extra: str, **fields: Any) -> None:
    """Validate one field with S3Config's own rules; re-raise naming the extra."""
    probe = {"bucket": _PROBE_BUCKET, **fields}
    try:
        S3Config(**probe)
    except ConfigError as exc:
        message = str(exc)
        for name in (*fields, extra, "endpoint"):
            if message.startswith(f"{name}: "):
                message = message[len(name) + 2:]
                break
        raise ConnectionConfigError(f"connection {conn_id!r}: extra {extra!r}: {message}") from None


def _encryption(conn_id: str, values: dict[str, Any]) -> ServerSideEncryption | None:
    algorithm = values.get("server_side_encryption")
    key_id = values.get("sse_kms_key_id")
    if key_id and algorithm is None:
        algorithm = "aws:kms"
    if algorithm is None:
        return None
    try:
        sse = ServerSideEncryption.parse(algorithm)
        if key_id:
            sse = ServerSideEncryption(sse.algorithm, key_id)
    except ConfigError as exc:
        kms = key_id and "kms_key_id" in str(exc)
        extra = "sse_kms_key_id" if kms else "server_side_encryption"
        message = str(exc).removeprefix("server_side_encryption: ")
        raise ConnectionConfigError(f"connection {conn_id!r}: extra {extra!r}: {message}") from None
    return sse


def _credentials(
    conn: Any, conn_id: str, values: dict[str, Any], legacy: tuple | None = None
) -> Credentials | None:
    login = getattr(conn, "login", None) or None
    password = getattr(conn, "password", None) or None
    if legacy and not login and not password:
        login, password = legacy
    token = values.get("aws_session_token")
    if not login and not password:
        if token:
            raise ConnectionConfigError(
                f"connection {conn_id!r}: extra 'aws_session_token' needs an access key id "
                "(login) and secret (password)"
            )
        return None
    if not login:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: field 'login' (access key id) is empty but a password is set"
        )
    if not password:
        raise ConnectionConfigError(
            f"connection {conn_id!r}: field 'password' (secret access key) is empty but a login "
            "is set"
        )
    if not isinstance(login, str) or not isinstance(password, str):
        raise ConnectionConfigError(f"connection {conn_id!r}: login and password must be strings")
    return Credentials(login.strip(), password, token)


_ROLE_KWARGS = {"ExternalId": "external_id", "RoleSessionName": "session_name",
                "DurationSeconds": "duration_seconds"}  # fmt: skip


def _role(conn_id: str, values: dict[str, Any]) -> AssumeRole | None:
    role_arn = values.get("role_arn")
    if role_arn is None:
        for extra in ("external_id", "role_session_name", "assume_role_kwargs"):
            if extra in values:
                raise ConnectionConfigError(
                    f"connection {conn_id!r}: extra {extra!r} needs the extra 'role_arn'"
                )
        return None
    kwargs: dict[str, Any] = {"role_arn": role_arn}
    for key, value in (values.get("assume_role_kwargs") or {}).items():
        if key in _ROLE_KWARGS:
            kwargs[_ROLE_KWARGS[key]] = value
        elif values.get("assume_role_method", "assume_role") != WEB_IDENTITY:
            raise ConnectionConfigError(
                f"connection {conn_id!r}: extra 'assume_role_kwargs': key {key!r} is not "
                f"supported ({', '.join(_ROLE_KWARGS)})"
            )
    if "role_session_name" in values:
        kwargs["session_name"] = values["role_session_name"]
    if "external_id" in values:
        kwargs["external_id"] = values["external_id"]
    try:
        return AssumeRole(**kwargs)
    except ConfigError as exc:
        message = str(exc)
        extra = message.split(":", 1)[0]
        extra = extra if extra in ("role_arn", "role_session_name", "external_id") else "role_arn"
        message = message.removeprefix(f"{extra}: ")
        raise ConnectionConfigError(f"connection {conn_id!r}: extra {extra!r}: {message}") from None
