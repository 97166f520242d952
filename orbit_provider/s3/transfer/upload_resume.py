"""Resuming a multipart upload from what S3 itself records (no local state).

How an unfinished upload is matched to a local file, and why this way: S3, SeaweedFS and
moto all keep the metadata given to CreateMultipartUpload (our `orbit-fingerprint`) but none
of them returns it before the upload completes: ListMultipartUploads gives key, upload id,
initiation time (and on S3/moto the checksum algorithm); ListParts gives number, size and
ETag, and no per-part checksum on SeaweedFS or moto. So an upload of the same key is taken
over when (1) its parts fit this file's part layout (every listed part has exactly the size
the layout gives that part number: this checks file size and part size), and (2) at least
one listed part matches the local bytes. Every listed part is checked against the local
bytes before it is trusted: by the checksum the store lists for it (of the upload's
algorithm: CRC32, CRC32C, CRC64NVME, SHA256), else by its ETag, which is the MD5 of the
part for unencrypted and SSE-S3 uploads. A part that cannot be checked
(SSE-KMS ETags) or does not match is uploaded again. The MD5 costs about 1.5 CPU-s/GiB, but
only for the bytes being resumed. An explicit ResumeToken names the upload directly and is
taken over even when none of its parts match.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from orbit_provider.s3.errors import ConfigError, NotFound
from orbit_provider.s3.transfer.incomplete_uploads import IncompleteUpload, iter_incomplete_uploads
from orbit_provider.s3.transfer.upload_io import LocalFile
from orbit_provider.s3.transfer.upload_plan import expected_part_size, usable_part_size
from orbit_provider.s3.wire import checksums

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

log = logging.getLogger("orbit_provider.s3.transfer.upload_resume")

TOKEN_PREFIX = "orbit-resume-v1."
MAX_CANDIDATES = 10  # unfinished uploads of one key examined at most (each costs a ListParts)
PART_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA256", "SHA1")  # as ListParts names them


@dataclass(frozen=True)
class ResumeToken:
    """Names one multipart upload of one file; `str(token)` / `ResumeToken.parse` round-trip."""

    upload_id: str
    key: str
    part_size: int
    fingerprint: str

    def to_string(self) -> str:
        raw = json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode()
        return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")

    __str__ = to_string

    @classmethod
    def from_string(cls, text: str) -> ResumeToken:
        if not isinstance(text, str) or not text.startswith(TOKEN_PREFIX):
            raise ConfigError("resume_token: not an orbit resume token (orbit-resume-v1....)")
        try:
            fields = json.loads(base64.urlsafe_b64decode(text[len(TOKEN_PREFIX) :]))
            token = cls(
                upload_id=str(fields["upload_id"]),
                key=str(fields["key"]),
                part_size=int(fields["part_size"]),
                fingerprint=str(fields["fingerprint"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ConfigError("resume_token: the token is damaged and cannot be read") from None
        return token

    @classmethod
    def parse(cls, value: ResumeToken | str) -> ResumeToken:
        if isinstance(value, ResumeToken):
            return value
        return cls.from_string(value)


@dataclass(frozen=True)
class ListedPart:
    """A part S3 already holds, with the checksum ListParts gives for it (if any)."""

    number: int
    size: int
    etag: str
    checksum: str | None = None  # base64, of `checksum_algorithm`
    checksum_algorithm: str | None = None


@dataclass
class ResumePlan:
    """An unfinished upload taken over: its parts that match the local file, and the rest."""

    upload_id: str
    part_size: int
    verified: dict[int, ListedPart] = field(default_factory=dict)  # trusted as they are
    checksums: dict[int, str] = field(default_factory=dict)  # theirs (base64), for Complete
    mismatched: list[int] = field(default_factory=list)  # listed but to be sent again
    resumed: bool = True  # False: a new upload this call created

    @property
    def resumed_bytes(self) -> int:
        return sum(p.size for p in self.verified.values())


def list_parts(client: S3Session, key: str, upload_id: str) -> dict[int, ListedPart]:
    """Every part of an upload, following ListParts page by page."""
    parts: dict[int, ListedPart] = {}
    marker = 0
    while True:
        resp = client.call(
            "list_parts", key=key, UploadId=upload_id, PartNumberMarker=marker, MaxParts=1000
        )
        for p in resp.get("Parts", []):
            algorithm = next((a for a in PART_ALGORITHMS if p.get(f"Checksum{a}")), None)
            parts[p["PartNumber"]] = ListedPart(
                p["PartNumber"],
                int(p["Size"]),
                p["ETag"],
                p.get(f"Checksum{algorithm}") if algorithm else None,
                algorithm,
            )
        nxt = int(resp.get("NextPartNumberMarker") or 0)
        if not resp.get("IsTruncated") or nxt <= marker:
            return parts
        marker = nxt


def fitting_part_size(
    size: int, parts: dict[int, ListedPart], preferred: Iterable[int]
) -> int | None:
    """The first part size (of `preferred`, then the largest listed part) whose layout of a
    `size`-byte file gives every listed part exactly its listed size; None if none does."""
    options = list(preferred)
    if parts:
        options.insert(1, max(p.size for p in parts.values()))
    for part_size in options:
        if usable_part_size(size, part_size) and all(
            expected_part_size(size, part_size, n) == p.size for n, p in parts.items()
        ):
            return part_size
    return None


def check_part(
    local: LocalFile, part: ListedPart, offset: int, algorithm: str | None
) -> str | None:
    """Compare a listed part with the local bytes at `offset` (read in pieces).

    Checked by the checksum the store lists for the part, else by its MD5 ETag. Returns the
    part's `algorithm` checksum (base64) when it matches (an empty string when `algorithm`
    is None: no checksums), or None when it does not match or cannot be checked.
    """
    listed = part.checksum_algorithm if part.checksum and "-" not in part.checksum else None
    by_md5 = listed is None and checksums.is_md5_etag(part.etag)
    if not (listed or by_md5):
        return None  # e.g. SSE-KMS: the ETag is not an MD5; send the part again
    names = tuple(dict.fromkeys(a for a in (algorithm, listed) if a))
    values, md5 = local.digests(offset, part.size, algorithms=names, md5=by_md5)
    b64 = {name: base64.b64encode(value).decode("ascii") for name, value in values.items()}
    ok = b64[listed] == part.checksum if listed else md5 == checksums.plain_etag(part.etag)
    if not ok:
        return None
    return b64[algorithm] if algorithm else ""


Mapper = Callable[[Callable, Iterable], Iterable]


def _abort_if_ours(
    client: S3Session,
    key: str,
    local: LocalFile,
    upload: IncompleteUpload,
    part_size: int,
    pmap: Mapper,
    why: str,
) -> None:
    """Abort an unfinished upload of `key` made with other settings when one of its parts
    holds this file's bytes: it was this file's, and it can never be completed as asked."""
    try:
        parts = list_parts(client, key, upload.upload_id)
    except NotFound:
        return
    chosen = fitting_part_size(local.size, parts, [part_size])
    if chosen is None:
        return
    listed = sorted(parts.values(), key=lambda p: p.number)
    checks = pmap(lambda p: check_part(local, p, (p.number - 1) * chosen, None), listed)
    if any(crc is not None for crc in checks):
        log.info(
            "aborting upload %s of s3://%s/%s: it holds this file with %s",
            upload.upload_id, client.bucket, key, why,
        )
        client.call("abort_multipart_upload", key=key, UploadId=upload.upload_id)


def settings_differ(
    upload: IncompleteUpload,
    storage_class: str,
    algorithm: str | None,
    checksum_type: str | None,
) -> str | None:
    """How an unfinished upload's listed settings differ from the call's, or None (equal,
    or not listed: S3 lists all three, moto the checksum ones, SeaweedFS none)."""
    if upload.storage_class not in (None, storage_class):
        return f"storage class {upload.storage_class}, not the {storage_class} asked for"
    if upload.checksum_algorithm not in (None, algorithm):
        return f"checksum {upload.checksum_algorithm}, not the {algorithm} asked for"
    if algorithm and upload.checksum_type not in (None, checksum_type or "COMPOSITE"):
        return f"a {upload.checksum_type} checksum, not the {checksum_type} asked for"
    return None


def find_resumable(
    client: S3Session,
    key: str,
    local: LocalFile,
    part_size: int,
    *,
    token: ResumeToken | None,
    algorithm: str | None,
    checksum_type: str | None = None,
    storage_class: str = "STANDARD",
    pmap: Mapper = map,
) -> ResumePlan | None:
    """The unfinished upload of `key` to continue for this file, or None to start a new one.

    Only an upload whose listed settings match this call's (checksum algorithm and type,
    storage class, where the store reports them) is continued; one with other settings
    whose parts prove it holds this file is aborted. The settings no store lists (SSE,
    metadata, tags, content type) are checked on the completed object (upload_settle.py).
    `pmap` runs the per-part checks in parallel.
    """
    candidates: list[tuple[str, int | None, bool]] = []  # upload id, token part size, explicit
    if token is not None:
        if token.key != key:
            raise ConfigError(
                f"resume_token: the token is for key {token.key!r}, not {key!r}"
            )
        candidates.append((token.upload_id, token.part_size, True))
    found: list[IncompleteUpload] = []
    for u in iter_incomplete_uploads(client, key):
        if u.key != key:  # listings are sorted by key: `key` itself comes before its extensions
            break
        if token is not None and u.upload_id == token.upload_id:
            continue
        why = settings_differ(u, storage_class, algorithm, checksum_type)
        if why:
            _abort_if_ours(client, key, local, u, part_size, pmap, why)
        else:
            found.append(u)
    found.sort(key=lambda u: u.initiated, reverse=True)
    candidates += [(u.upload_id, None, False) for u in found[:MAX_CANDIDATES]]

    for upload_id, token_part_size, explicit in candidates:
        plan = examine(client, key, local, upload_id, [token_part_size, part_size], algorithm,
                       pmap)  # fmt: skip
        if plan is not None and (explicit or plan.verified):
            log.info(
                "resuming upload %s of s3://%s/%s: %d parts match, %d to send again",
                upload_id, client.bucket, key, len(plan.verified), len(plan.mismatched),
            )
            return plan
    return None


def examine(
    client: S3Session,
    key: str,
    local: LocalFile,
    upload_id: str,
    part_sizes: Iterable[int | None],
    algorithm: str | None,
    pmap: Mapper = map,
) -> ResumePlan | None:
    """Which parts of an unfinished upload hold this file's bytes (a plan whose `verified`
    may be empty), or None when the upload is gone or its parts do not fit the file."""
    try:
        parts = list_parts(client, key, upload_id)
    except NotFound:
        log.info("upload %s of %s is gone; not resuming it", upload_id, key)
        return None
    chosen = fitting_part_size(local.size, parts, [s for s in part_sizes if s])
    if chosen is None:
        log.info("upload %s of %s does not fit this file's parts; not resuming it",
                 upload_id, key)  # fmt: skip
        return None
    listed = sorted(parts.values(), key=lambda p: p.number)
    results = list(
        pmap(lambda p: check_part(local, p, (p.number - 1) * chosen, algorithm), listed)
    )
    plan = ResumePlan(upload_id, chosen)
    for part, value in zip(listed, results, strict=True):
        if value is None:
            plan.mismatched.append(part.number)
        else:
            plan.verified[part.number] = part
            if algorithm:
                plan.checksums[part.number] = value
    return plan
