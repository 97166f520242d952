"""Validated configuration of an S3 client: bucket, endpoint, credentials and transfer tuning."""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from orbit_provider.s3.errors import ConfigError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

MIN_CHUNK_SIZE = 5 * MIB
DEFAULT_CHUNK_SIZE = 5 * MIB  # the chunk size when none is set (the guide's default)
MAX_CHUNK_SIZE = 5 * GIB
MAX_PARTS = 10_000

#: checksums an upload can ask the store to verify and keep (S3's ChecksumAlgorithm)
UPLOAD_CHECKSUM_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
#: how a multipart object's checksum is formed (S3's ChecksumType): SHA1 and SHA256 are
#: COMPOSITE only, CRC64NVME FULL_OBJECT only (S3 and SeaweedFS refuse the other)
CHECKSUM_TYPES = ("COMPOSITE", "FULL_OBJECT")

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# What S3 takes in a request to an existing bucket: legacy us-east-1 names may hold capitals
# and underscores and be up to 255 characters long (botocore checks the same characters).
_EXISTING_BUCKET_RE = re.compile(r"^[A-Za-z0-9._-]{3,255}$")
_IPV4_RE = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# Reserved by AWS for general purpose buckets (directory buckets' "--x-s3" stays allowed).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap")


class StorageClass(enum.StrEnum):
    """S3 storage classes; `parse` accepts AWS's own spellings, case-insensitively."""

    STANDARD = "STANDARD"
    REDUCED_REDUNDANCY = "REDUCED_REDUNDANCY"
    STANDARD_IA = "STANDARD_IA"
    ONEZONE_IA = "ONEZONE_IA"
    INTELLIGENT_TIERING = "INTELLIGENT_TIERING"
    GLACIER_IR = "GLACIER_IR"
    GLACIER = "GLACIER"
    DEEP_ARCHIVE = "DEEP_ARCHIVE"
    EXPRESS_ONEZONE = "EXPRESS_ONEZONE"

    @classmethod
    def parse(cls, value: str | StorageClass) -> StorageClass:
        """Return the storage class named by `value` (e.g. "glacier_flexible_retrieval")."""
        if isinstance(value, StorageClass):
            return value
        if not isinstance(value, str):
            raise ConfigError(f"storage_class: expected a string, got {type(value).__name__}")
        name = value.strip().upper().replace("-", "_").replace(" ", "_")
        name = _STORAGE_CLASS_ALIASES.get(name, name)
        try:
            return cls(name)
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ConfigError(
                f"storage_class: unknown storage class {value!r} (known: {known})"
            ) from None

    @property
    def is_archive(self) -> bool:
        """True for classes whose objects must be restored before they can be read."""
        return self in (StorageClass.GLACIER, StorageClass.DEEP_ARCHIVE)


_STORAGE_CLASS_ALIASES = {
    "GLACIER_FLEXIBLE_RETRIEVAL": "GLACIER",
    "GLACIER_INSTANT_RETRIEVAL": "GLACIER_IR",
    "GLACIER_DEEP_ARCHIVE": "DEEP_ARCHIVE",
    "INFREQUENT_ACCESS": "STANDARD_IA",
}


class SseAlgorithm(enum.StrEnum):
    """Server-side encryption algorithms S3 accepts."""

    AES256 = "AES256"
    KMS = "aws:kms"


@dataclass(frozen=True)
class ServerSideEncryption:
    """Server-side encryption for writes: AES256 (SSE-S3) or aws:kms with an optional key id."""

    algorithm: SseAlgorithm = SseAlgorithm.AES256
    kms_key_id: str | None = None

    def __post_init__(self) -> None:
        try:
            algorithm = SseAlgorithm(self.algorithm)
        except ValueError:
            raise ConfigError(
                f"server_side_encryption: unknown algorithm {self.algorithm!r} "
                "(use 'AES256' or 'aws:kms')"
            ) from None
        object.__setattr__(self, "algorithm", algorithm)
        if self.kms_key_id is not None and algorithm is not SseAlgorithm.KMS:
            raise ConfigError("server_side_encryption: kms_key_id is only valid with aws:kms")

    @classmethod
    def aes256(cls) -> ServerSideEncryption:
        return cls(SseAlgorithm.AES256)

    @classmethod
    def kms(cls, key_id: str | None = None) -> ServerSideEncryption:
        return cls(SseAlgorithm.KMS, key_id)

    @classmethod
    def parse(cls, value: str | ServerSideEncryption | None) -> ServerSideEncryption | None:
        """Accept None, an instance, "AES256", "aws:kms" or "aws:kms:<key id>"."""
        if value is None or isinstance(value, ServerSideEncryption):
            return value
        text = str(value).strip()
        if text.upper() == "AES256":
            return cls.aes256()
        if text.lower() == "aws:kms":
            return cls.kms()
        if text.lower().startswith("aws:kms:"):
            return cls.kms(text[len("aws:kms:"):])
        raise ConfigError(
            f"server_side_encryption: unknown value {value!r} (use 'AES256', 'aws:kms' "
            "or 'aws:kms:<key id>')"
        )

    def request_args(self) -> dict[str, str]:
        """The boto3 request parameters that apply this encryption to a write."""
        args = {"ServerSideEncryption": self.algorithm.value}
        if self.kms_key_id:
            args["SSEKMSKeyId"] = self.kms_key_id
        return args


@dataclass(frozen=True)
class Credentials:
    """Static credentials. Their repr and str never show the secret or the session token."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.access_key_id or not isinstance(self.access_key_id, str):
            raise ConfigError("credentials.access_key_id: must be a non-empty string")
        if not self.secret_access_key or not isinstance(self.secret_access_key, str):
            raise ConfigError("credentials.secret_access_key: must be a non-empty string")

    def __repr__(self) -> str:
        token = ", session_token=***" if self.session_token else ""
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=***{token})"

    __str__ = __repr__


def validate_bucket_name(bucket: str, *, new: bool = False) -> str:
    """Check `bucket` and return it; raise ConfigError naming the rule.

    By default only what S3 itself refuses in a request to an existing bucket: 3 to 255
    letters, digits, dots, hyphens and underscores (legacy names with capitals or underscores
    still exist). With `new=True`, S3's rules for creating a bucket today.
    """
    if bucket is None or (isinstance(bucket, str) and not bucket):
        raise ConfigError("bucket: a bucket name is required")
    if not isinstance(bucket, str):
        raise ConfigError(f"bucket: expected a bucket name, got {type(bucket).__name__}")
    if not new:
        if not _EXISTING_BUCKET_RE.match(bucket):
            raise ConfigError(
                f"bucket: {bucket!r} is not a bucket name S3 accepts (3 to 255 letters, "
                "digits, dots, hyphens and underscores)"
            )
        return bucket
    if not 3 <= len(bucket) <= 63:
        raise ConfigError(f"bucket: {bucket!r} must be 3 to 63 characters long")
    if not _BUCKET_RE.match(bucket):
        raise ConfigError(
            f"bucket: {bucket!r} may hold only lowercase letters, digits, dots and hyphens, "
            "and must begin and end with a letter or digit"
        )
    if ".." in bucket or ".-" in bucket or "-." in bucket:
        raise ConfigError(f"bucket: {bucket!r} must not hold '..', '.-' or '-.'")
    if _IPV4_RE.match(bucket):
        raise ConfigError(f"bucket: {bucket!r} must not be formatted as an IP address")
    if bucket.startswith(_RESERVED_PREFIXES):
        raise ConfigError(
            f"bucket: {bucket!r} must not start with a reserved prefix "
            f"({', '.join(repr(p) for p in _RESERVED_PREFIXES)})"
        )
    if bucket.endswith(_RESERVED_SUFFIXES):
        raise ConfigError(
            f"bucket: {bucket!r} must not end with a reserved suffix "
            f"({', '.join(repr(s) for s in _RESERVED_SUFFIXES)})"
        )
    return bucket


def validate_key(key: str, field_name: str = "key") -> str:
    """Check an object key: non-empty, at most 1024 UTF-8 bytes."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{field_name}: an object key must be a non-empty string")
    if len(key.encode("utf-8")) > 1024:
        raise ConfigError(f"{field_name}: an object key must be at most 1024 bytes in UTF-8")
    return key


def validate_endpoint(endpoint: str) -> str:
    """Check that `endpoint` is an absolute http(s) URL with a host."""
    parsed = urlparse(endpoint) if isinstance(endpoint, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(
            f"endpoint: {endpoint!r} must be an http:// or https:// URL with a host"
        )
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"endpoint: {endpoint!r} has an invalid port") from None
    return endpoint


@dataclass(frozen=True)
class S3Config:
    """Everything an S3Client needs, validated on construction (defaults follow the guide)."""

    bucket: str
    region: str | None = None
    endpoint: str | None = None
    credentials: Credentials | None = None
    profile: str | None = None
    storage_class: StorageClass = StorageClass.STANDARD
    server_side_encryption: ServerSideEncryption | None = None
    #: part size of uploads and copies, and the smallest range of downloads; None (the
    #: default) chooses it: DEFAULT_CHUNK_SIZE, grown for large uploads (transfer/upload_plan.py)
    chunk_size: int | None = None
    #: the most parts or ranges of one transfer in flight: a cap. Downloads run at it (a
    #: range costs a small streaming buffer); uploads start with fewer and add more while
    #: they pay (transfer/tuner.py), since each part in flight is a buffer in memory
    parallel_operations: int = 32
    timeout_seconds: float = 300
    max_retries: int = 3
    verify_checksums: bool = True
    #: the checksum every upload sends and the store verifies (with verify_checksums)
    checksum_algorithm: str = "CRC32"
    #: a multipart upload's object checksum: "FULL_OBJECT" (the whole file's CRC, combined
    #: from the parts), "COMPOSITE" (checksum of the part checksums, 'xxx==-N'); None
    #: chooses: FULL_OBJECT for the CRCs, COMPOSITE for SHA1 and SHA256 (their only kind)
    checksum_type: str | None = None
    force_path_style: bool = False
    max_bandwidth: int | None = None
    multipart_copy_threshold: int = 5 * GIB
    direct_io: bool = True
    #: refuse to download an object that only its size can verify (no CRC32, no usable MD5)
    require_verification: bool = False
    #: S3 Transfer Acceleration (AWS only): requests go to BUCKET.s3-accelerate.amazonaws.com
    use_accelerate_endpoint: bool = False
    #: seconds between the circuit breaker's probes while the store fails (see recovery.py)
    circuit_breaker_timeout: float = 30.0
    #: failed probes in a row after which waiting work gives up with CircuitOpen
    circuit_breaker_open_cycles: int = 3
    #: TLS certificate check of https endpoints: True, False (self-signed stores), or the path
    #: of a CA bundle; botocore and the plain-HTTP part and range requests both follow it
    verify: bool | str = True
    #: more botocore Config settings (BOTOCORE_OPTIONS), e.g. {"signature_version": "unsigned"}
    #: or {"proxies": {...}}; retries, pools, timeouts and checksums stay orbit's own
    botocore_config: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        validate_bucket_name(self.bucket)
        _check_verify(self.verify)
        _check_botocore_config(self.botocore_config)
        if self.endpoint is not None:
            validate_endpoint(self.endpoint)
        if self.region is not None and (not isinstance(self.region, str) or not self.region):
            raise ConfigError("region: must be a non-empty string or None")
        if self.credentials is not None and not isinstance(self.credentials, Credentials):
            raise ConfigError("credentials: must be a Credentials instance or None")
        object.__setattr__(self, "storage_class", StorageClass.parse(self.storage_class))
        object.__setattr__(
            self,
            "server_side_encryption",
            ServerSideEncryption.parse(self.server_side_encryption),
        )
        if self.chunk_size is not None:
            _check_int("chunk_size", self.chunk_size)
        if self.chunk_size is not None and not MIN_CHUNK_SIZE <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise ConfigError(
                f"chunk_size: {self.chunk_size} must be between 5 MiB ({MIN_CHUNK_SIZE}) "
                f"and 5 GiB ({MAX_CHUNK_SIZE}) bytes"
            )
        _check_int("parallel_operations", self.parallel_operations)
        if self.parallel_operations < 1:
            raise ConfigError(
                f"parallel_operations: {self.parallel_operations} must be a positive integer"
            )
        if isinstance(self.timeout_seconds, bool) or not isinstance(
            self.timeout_seconds, int | float
        ) or self.timeout_seconds <= 0:
            raise ConfigError(f"timeout_seconds: {self.timeout_seconds!r} must be positive")
        _check_int("max_retries", self.max_retries)
        if self.max_retries < 0:
            raise ConfigError(f"max_retries: {self.max_retries} must not be negative")
        if self.max_bandwidth is not None:
            _check_int("max_bandwidth", self.max_bandwidth)
            if self.max_bandwidth <= 0:
                raise ConfigError(
                    f"max_bandwidth: {self.max_bandwidth} must be a positive number of "
                    "bytes per second, or None for no limit"
                )
        _check_int("multipart_copy_threshold", self.multipart_copy_threshold)
        if not MIN_CHUNK_SIZE <= self.multipart_copy_threshold <= MAX_CHUNK_SIZE:
            raise ConfigError(
                "multipart_copy_threshold: must be between 5 MiB and 5 GiB (S3's single-copy "
                "limit)"
            )
        if not isinstance(self.direct_io, bool):
            raise ConfigError(f"direct_io: {self.direct_io!r} must be True or False")
        _check_accelerate(self)
        _check_checksum(self)
        if not isinstance(self.require_verification, bool):
            raise ConfigError(
                f"require_verification: {self.require_verification!r} must be True or False"
            )
        if self.require_verification and not self.verify_checksums:
            raise ConfigError(
                "require_verification: needs verify_checksums=True (nothing is verified without)"
            )
        if isinstance(self.circuit_breaker_timeout, bool) or not isinstance(
            self.circuit_breaker_timeout, int | float
        ) or self.circuit_breaker_timeout <= 0:
            raise ConfigError(
                f"circuit_breaker_timeout: {self.circuit_breaker_timeout!r} must be a positive "
                "number of seconds"
            )
        _check_int("circuit_breaker_open_cycles", self.circuit_breaker_open_cycles)
        if self.circuit_breaker_open_cycles < 1:
            raise ConfigError(
                f"circuit_breaker_open_cycles: {self.circuit_breaker_open_cycles} must be at "
                "least 1"
            )

    @property
    def effective_chunk_size(self) -> int:
        """The chunk size in force: the one set, else DEFAULT_CHUNK_SIZE."""
        return self.chunk_size if self.chunk_size is not None else DEFAULT_CHUNK_SIZE

    @property
    def effective_checksum_type(self) -> str:
        """The checksum type multipart uploads ask for: the one set, else FULL_OBJECT for a
        CRC and COMPOSITE for SHA1 and SHA256."""
        if self.checksum_type is not None:
            return self.checksum_type
        return "COMPOSITE" if self.checksum_algorithm.startswith("SHA") else "FULL_OBJECT"

    @property
    def endpoint_scope(self) -> str:
        """The store this config talks to, as the circuit breaker's scope: the endpoint URL,
        or AWS's regional endpoint."""
        return self.endpoint or f"https://s3.{self.region or 'us-east-1'}.amazonaws.com"

    def with_changes(self, **changes: object) -> S3Config:
        """A copy of this config with some fields replaced (validated again)."""
        from dataclasses import replace

        return replace(self, **changes)


#: botocore Config settings S3Config.botocore_config may carry (the others are set by orbit:
#: retries, pool size, timeouts, checksums; or are S3Config fields of their own)
BOTOCORE_OPTIONS = frozenset({
    "signature_version", "connect_timeout", "proxies", "proxies_config", "client_cert",
    "user_agent_extra", "user_agent_appid", "tcp_keepalive", "s3",
})  # fmt: skip
_BOTOCORE_S3_OPTIONS = frozenset({
    "payload_signing_enabled", "us_east_1_regional_endpoint",
    "use_dualstack_endpoint", "use_arn_region",
})  # fmt: skip
# SigV2 ("s3") signs presigned part and range URLs differently; AWS has retired it.
_SIGNATURE_VERSIONS = ("s3v4", "v4", "unsigned")


def _check_verify(verify: object) -> None:
    if isinstance(verify, bool):
        return
    if not isinstance(verify, str) or not verify.strip():
        raise ConfigError(
            f"verify: {verify!r} must be True, False or the path of a CA bundle file"
        )
    if not os.path.isfile(verify):
        raise ConfigError(f"verify: CA bundle {verify!r} is not a readable file")


def _check_botocore_config(options: object) -> None:
    if options is None:
        return
    if not isinstance(options, Mapping):
        raise ConfigError("botocore_config: must be a dict of botocore Config settings")
    unknown = sorted(set(options) - BOTOCORE_OPTIONS)
    if unknown:
        raise ConfigError(
            f"botocore_config: {unknown[0]!r} is not supported (accepted: "
            f"{', '.join(sorted(BOTOCORE_OPTIONS))}; retries, timeouts, pools and checksums "
            "are orbit's own settings)"
        )
    version = options.get("signature_version")
    if version is not None and version not in _SIGNATURE_VERSIONS:
        raise ConfigError(
            f"botocore_config: signature_version {version!r} is not supported (use 's3v4', "
            "or 'unsigned' for anonymous access)"
        )
    s3 = options.get("s3")
    if s3 is not None:
        if not isinstance(s3, Mapping):
            raise ConfigError("botocore_config: 's3' must be a dict")
        unknown = sorted(set(s3) - _BOTOCORE_S3_OPTIONS)
        if unknown:
            raise ConfigError(
                f"botocore_config: s3.{unknown[0]} is not supported (accepted: "
                f"{', '.join(sorted(_BOTOCORE_S3_OPTIONS))})"
            )


def _check_accelerate(config: S3Config) -> None:
    """Transfer Acceleration is an AWS endpoint reached by virtual-hosted names: it cannot go
    with a custom endpoint, path-style addressing, or a bucket name with dots."""
    if not isinstance(config.use_accelerate_endpoint, bool):
        raise ConfigError(
            f"use_accelerate_endpoint: {config.use_accelerate_endpoint!r} must be True or False"
        )
    if not config.use_accelerate_endpoint:
        return
    if config.endpoint is not None:
        raise ConfigError(
            "use_accelerate_endpoint: S3 Transfer Acceleration is AWS's own endpoint; it "
            f"cannot be used with endpoint {config.endpoint!r}"
        )
    if config.force_path_style:
        raise ConfigError(
            "use_accelerate_endpoint: Transfer Acceleration needs virtual-hosted addressing; "
            "turn force_path_style off"
        )
    if "." in config.bucket:
        raise ConfigError(
            f"use_accelerate_endpoint: bucket {config.bucket!r} has dots, which S3 Transfer "
            "Acceleration does not accept"
        )


def _check_checksum(config: S3Config) -> None:
    """checksum_algorithm and checksum_type: known names (any case), and a pair S3 accepts."""
    algorithm = config.checksum_algorithm
    if not isinstance(algorithm, str) or algorithm.upper() not in UPLOAD_CHECKSUM_ALGORITHMS:
        raise ConfigError(
            f"checksum_algorithm: {algorithm!r} is not one uploads can use "
            f"(one of {', '.join(UPLOAD_CHECKSUM_ALGORITHMS)})"
        )
    object.__setattr__(config, "checksum_algorithm", algorithm.upper())
    kind = config.checksum_type
    if kind is None:
        return
    if not isinstance(kind, str) or kind.upper().replace("-", "_") not in CHECKSUM_TYPES:
        raise ConfigError(
            f"checksum_type: {kind!r} must be one of {', '.join(CHECKSUM_TYPES)} "
            "(or None to choose by algorithm)"
        )
    kind = kind.upper().replace("-", "_")
    object.__setattr__(config, "checksum_type", kind)
    if kind == "FULL_OBJECT" and config.checksum_algorithm.startswith("SHA"):
        raise ConfigError(
            "checksum_type: FULL_OBJECT needs a CRC (CRC32, CRC32C or CRC64NVME); "
            f"S3 keeps {config.checksum_algorithm} of multipart objects only as COMPOSITE"
        )
    if kind == "COMPOSITE" and config.checksum_algorithm == "CRC64NVME":
        raise ConfigError(
            "checksum_type: S3 keeps CRC64NVME of multipart objects only as FULL_OBJECT"
        )


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: {value!r} must be an integer")
