"""Upload a local file: one PUT below `chunk_size`, else a parallel, resumable multipart upload.

Parts are read from disk when a worker is ready to send them, into a buffer each worker
reuses, so at most `parallel_operations` parts are in memory; they go out as plain PUTs on
presigned URLs where possible (part_put.py). Each part carries a checksum of the config's
`checksum_algorithm` (computed once) that the store verifies; the object's checksum is the
whole file's (FULL_OBJECT, combined from the part CRCs) or the composite of the parts', and
the finished object is checked against it (and its size). A failure
that retries cannot fix leaves the multipart upload in place and raises UploadInterrupted:
calling upload_file again, from this or any other process, resumes it (transfer/upload_resume.py).
"""

from __future__ import annotations

import base64
import logging
import mmap
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orbit_provider.s3.config import ServerSideEncryption, StorageClass, validate_key
from orbit_provider.s3.errors import (
    ConfigError,
    IntegrityError,
    NotFound,
    PreconditionFailed,
    S3Error,
    UploadInterrupted,
)
from orbit_provider.s3.limits import validate_metadata
from orbit_provider.s3.models import _version
from orbit_provider.s3.progress import ProgressReporter, TransferProgress, new_transfer_id
from orbit_provider.s3.transfer.runner import ParallelRunner, run_parallel
from orbit_provider.s3.transfer.tuner import START_WORKERS
from orbit_provider.s3.transfer.upload_io import FileSpan, LocalFile
from orbit_provider.s3.transfer.upload_plan import (
    FINGERPRINT_METADATA_KEY,
    Fingerprint,
    PartPlan,
    part_buffer_size,
    plan_parts,
    upload_part_size,
)
from orbit_provider.s3.transfer.upload_resume import (
    ResumePlan,
    ResumeToken,
    examine,
    find_resumable,
)
from orbit_provider.s3.transfer.upload_settle import WantedSettings, settle
from orbit_provider.s3.wire import checksums
from orbit_provider.s3.wire.part_put import PartSender, make_part_sender
from orbit_provider.s3.wire.ratelimit import ThrottledBody, TokenBucket

if TYPE_CHECKING:
    from orbit_provider.s3.session import S3Session

log = logging.getLogger("orbit_provider.s3.transfer.upload")


@dataclass(frozen=True)
class UploadResult:
    """What upload_file did. `bytes_sent` counts only bytes sent by this call (not resumed
    parts); `throughput` is bytes_sent / duration in bytes/s."""

    key: str
    size: int
    etag: str | None
    version_id: str | None
    parts: int
    parts_resumed: int
    bytes_sent: int
    duration: float
    throughput: float
    checksum: str | None = None  # the object's: whole-file, or composite 'xxx==-N'
    resume_token: ResumeToken | None = None  # the multipart upload used (None: single PUT)
    checksum_algorithm: str | None = None  # of `checksum` (None: checksums off)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the resume token as its string)."""
        d = {name: getattr(self, name) for name in self.__dataclass_fields__}
        d["resume_token"] = str(self.resume_token) if self.resume_token else None
        return d


def upload_file(
    client: S3Session,
    path: str | os.PathLike,
    key: str,
    *,
    storage_class: StorageClass | str | None = None,
    sse: ServerSideEncryption | str | None = None,
    metadata: dict[str, str] | None = None,
    content_type: str | None = None,
    tags: dict[str, str] | None = None,
    progress: ProgressReporter | None = None,
    max_bandwidth: int | TokenBucket | None = None,
    resume_token: ResumeToken | str | None = None,
    if_none_match: bool = False,
    head_first: bool = True,
) -> UploadResult:
    """Upload the file at `path` as `key`; every argument is checked before any request.
    `max_bandwidth`: bytes/s, or a TokenBucket shared with other transfers (a tree's).
    `if_none_match`: only if no object has the key: If-None-Match: * on the PUT or on
    CompleteMultipartUpload (atomic on AWS; a HEAD first catches stores that ignore it), and
    an upload that loses the race is aborted (PreconditionFailed). `head_first=False` leaves
    that HEAD out where the caller has just listed the key as absent (a tree upload)."""
    validate_key(key)
    write = client.write_args(storage_class, sse, metadata, content_type, tags)
    shared = max_bandwidth if isinstance(max_bandwidth, TokenBucket) else None
    limit = None if shared else _bandwidth(max_bandwidth, client.config.max_bandwidth)
    token = ResumeToken.parse(resume_token) if resume_token is not None else None
    if token is not None and token.key != key:
        raise ConfigError(f"resume_token: the token is for key {token.key!r}, not {key!r}")
    with LocalFile(path) as local:
        limiter = shared or (TokenBucket(limit) if limit else None)
        if if_none_match and head_first:
            refuse_existing(client, key)
        if local.size < client.config.effective_chunk_size:
            if if_none_match:
                write = {**write, "IfNoneMatch": "*"}
            return _put_single(client, local, key, write, limiter, progress)
        wanted = WantedSettings.from_write_args(write, tags)
        upload = _MultipartUpload(client, local, key, write, limiter, progress, token, wanted)
        upload.if_none_match = if_none_match
        return upload.run()


def refuse_existing(client: S3Session, key: str) -> None:
    """PreconditionFailed when an object has `key` (replace=False before any upload)."""
    try:
        client.head(key)
    except NotFound:
        return
    raise PreconditionFailed(
        f"s3://{client.bucket}/{key} already exists (replace=False / if_none_match)",
        bucket=client.bucket,
        key=key,
    )


def _bandwidth(per_call: int | None, configured: int | None) -> int | None:
    if per_call is None:
        return configured
    if isinstance(per_call, bool) or not isinstance(per_call, int) or per_call <= 0:
        raise ConfigError(
            f"max_bandwidth: {per_call!r} must be a positive number of bytes per second"
        )
    return per_call


def _send(
    client: S3Session, operation: str, key: str, data: bytes, limiter: TokenBucket | None,
    **params: Any,
) -> dict:
    """One PUT-like request with `data` as body; throttled bodies are rebuilt per attempt."""
    if limiter is None or not data:
        return client.call(operation, key=key, Body=data, **params)
    method = getattr(client.s3, operation)
    return client.retry(
        lambda: method(Bucket=client.bucket, Key=key, Body=ThrottledBody(data, limiter), **params),
        key=key,
    )


def _file_changed(client: S3Session, key: str, local: LocalFile, change: str) -> IntegrityError:
    return IntegrityError(
        f"{local.path} changed during the upload to s3://{client.bucket}/{key}: {change}; "
        "the object was not completed",
        bucket=client.bucket,
        key=key,
        code="FileChanged",
    )


def _put_single(
    client: S3Session,
    local: LocalFile,
    key: str,
    write: dict[str, Any],
    limiter: TokenBucket | None,
    progress: ProgressReporter | None,
) -> UploadResult:
    """A file below chunk_size: read it (at most chunk_size bytes) and PUT it once."""
    started = time.monotonic()
    tracker = TransferProgress(progress, "upload", key, local.size, 1)
    tracker.start()
    args = dict(write)
    crc = None
    try:
        data = local.read(0, local.size)
        change = local.changed()
        if change:
            raise _file_changed(client, key, local, change)
        crc, md5 = client.integrity_args(data, args)
        resp = _send(client, "put_object", key, data, limiter, **args)
        client.check_stored(key, crc, resp, "PutObject", lambda: md5 or part_md5(data))
    except OSError as exc:
        error = S3Error(f"{local.path}: cannot be read: {exc}", key=key, code="LocalReadError")
        tracker.fail(error)
        raise error from exc
    except BaseException as exc:
        tracker.fail(exc)
        raise
    tracker.advance(local.size)
    tracker.part_done(1, local.size)
    tracker.complete()
    duration = max(time.monotonic() - started, 1e-9)
    return UploadResult(
        key=key,
        size=local.size,
        etag=checksums.plain_etag(resp.get("ETag")),
        version_id=_version(resp.get("VersionId")),
        parts=1,
        parts_resumed=0,
        bytes_sent=local.size,
        duration=duration,
        throughput=local.size / duration,
        checksum=crc,
        checksum_algorithm=client.config.checksum_algorithm if crc else None,
    )


class _MultipartUpload:
    """One multipart upload of one file: resume or create, send parts, complete, verify."""

    def __init__(
        self,
        client: S3Session,
        local: LocalFile,
        key: str,
        write: dict[str, Any],
        limiter: TokenBucket | None,
        progress: ProgressReporter | None,
        token: ResumeToken | None,
        wanted: WantedSettings,
    ) -> None:
        self.wanted = wanted
        self.client = client
        self.local = local
        self.key = key
        self.write = write
        self.limiter = limiter
        self.progress = progress
        self.token = token
        config = client.config
        self.algorithm = config.checksum_algorithm if config.verify_checksums else None
        self.checksum_type = config.effective_checksum_type if self.algorithm else None
        self.workers = config.parallel_operations
        # parts are sized for the workers a run starts with: the cap is only reached where
        # more connections pay (a far network), and small parts there cost little
        self.plan_workers = min(self.workers, START_WORKERS)
        self.if_none_match = False

    def run(self) -> UploadResult:
        started = time.monotonic()
        config = self.client.config
        part_size = upload_part_size(self.local.size, config.chunk_size, self.plan_workers)
        create_args = self._create_args(part_size)  # checked before any request
        resume = find_resumable(
            self.client,
            self.key,
            self.local,
            part_size,
            token=self.token,
            algorithm=self.algorithm,
            checksum_type=self.checksum_type,
            storage_class=create_args.get("StorageClass", "STANDARD"),
            pmap=lambda check, parts: run_parallel(
                parts, check, workers=self.workers, name="orbit-upload-check"
            ),
        )
        transfer_id = new_transfer_id()
        if resume is not None:
            try:
                return self._finish(resume, started, transfer_id)
            except _SettingsRefused as refused:
                # made with settings no listing showed (SeaweedFS lists no checksum
                # algorithm): its parts held this file, so it was ours; start anew
                log.info("upload %s of s3://%s/%s refused this call's checksum (%s); "
                         "aborting it and starting a new upload", resume.upload_id,
                         self.client.bucket, self.key, refused.__cause__)  # fmt: skip
                try:
                    self.client.call(
                        "abort_multipart_upload", key=self.key, UploadId=resume.upload_id
                    )
                except NotFound:
                    pass
        resp = self.client.call("create_multipart_upload", key=self.key, **create_args)
        resume = ResumePlan(resp["UploadId"], part_size, resumed=False)
        return self._finish(resume, started, transfer_id)

    def _create_args(self, part_size: int) -> dict[str, Any]:
        args = dict(self.write)
        fingerprint = Fingerprint(self.local.size, part_size, self.local.mtime_ns)
        metadata = dict(args.get("Metadata") or {})
        metadata[FINGERPRINT_METADATA_KEY] = str(fingerprint)
        args["Metadata"] = validate_metadata(metadata)
        if self.algorithm:
            args["ChecksumAlgorithm"] = self.algorithm
            if self.checksum_type == "FULL_OBJECT":  # COMPOSITE is S3's default: not sent
                args["ChecksumType"] = "FULL_OBJECT"
        return args

    def _finish(self, resume: ResumePlan, started: float, transfer_id: str) -> UploadResult:
        size, key = self.local.size, self.key
        parts = plan_parts(size, resume.part_size)
        token = ResumeToken(
            resume.upload_id,
            key,
            resume.part_size,
            str(Fingerprint(size, resume.part_size, self.local.mtime_ns)),
        )
        todo = [p for p in parts if p.number not in resume.verified]
        tracker = TransferProgress(
            self.progress, "upload", key, size, len(parts), transfer_id=transfer_id
        )
        tracker.start(resume.resumed_bytes, len(resume.verified))
        done: dict[int, tuple[str, str | None]] = {
            n: (p.etag, resume.checksums.get(n)) for n, p in resume.verified.items()
        }
        completing = False
        try:
            sender = make_part_sender(
                self.client, key, resume.upload_id, self.limiter, self.algorithm or "CRC32"
            )
            try:
                self._send_parts(todo, sender, resume.part_size, tracker, done)
            finally:
                sender.close()
            change = self.local.changed()
            if change:
                raise _file_changed(self.client, key, self.local, change)
            expected = self._object_checksums(done, parts)
            completing = True
            resp = self.client.call(
                "complete_multipart_upload",
                key=key,
                UploadId=resume.upload_id,
                MultipartUpload={"Parts": self._part_listing(done)},
                **self._complete_args(expected),
            )
        except (S3Error, OSError) as exc:
            code = getattr(exc, "code", None)
            if completing and isinstance(exc, PreconditionFailed) and self.if_none_match:
                # another writer took the key first: this upload can never complete
                self._abort_quietly(resume.upload_id)
                tracker.fail(exc, resumable=False)
                raise
            if resume.resumed and (
                code in SETTINGS_REFUSED or (completing and code == "BadDigest")
            ):
                raise _SettingsRefused() from exc  # run() starts a new upload
            if code == "FileChanged" and self._drop_if_unusable(resume):
                changed = IntegrityError(
                    f"{exc}. The multipart upload {resume.upload_id} was aborted: none of its "
                    "parts holds the file as it is now. Call upload_file again once the file "
                    "is complete",
                    bucket=self.client.bucket,
                    key=key,
                    code="FileChanged",
                )
                tracker.fail(changed, resumable=False)
                raise changed from exc
            error = self._interrupted(exc, token, len(done), len(parts))
            tracker.fail(error, resumable=True)
            raise error from exc
        except BaseException as exc:
            tracker.fail(exc, resumable=True)
            raise
        stored = expected.stored if expected else None
        try:
            head = self._verify_object(resp, expected)
            if resume.resumed:  # finish with this call's settings, not the first try's
                settled = settle(self.client, key, self.wanted, head, token.fingerprint)
                if settled is not None:
                    self._check_head(settled, expected)
                    resp = {"ETag": settled.get("ETag"), "VersionId": settled.get("VersionId")}
                    stored = _stored_checksum(settled, expected)
        except BaseException as exc:
            tracker.fail(exc)
            raise
        tracker.complete()
        duration = max(time.monotonic() - started, 1e-9)
        sent = sum(p.size for p in todo)
        return UploadResult(
            key=key,
            size=size,
            etag=checksums.plain_etag(resp.get("ETag")),
            version_id=_version(resp.get("VersionId")),
            parts=len(parts),
            parts_resumed=len(resume.verified),
            bytes_sent=sent,
            duration=duration,
            throughput=sent / duration,
            checksum=stored,
            resume_token=token,
            checksum_algorithm=self.algorithm,
        )

    def _part_listing(self, done: dict[int, tuple[str, str | None]]) -> list[dict[str, Any]]:
        name = checksums.param_name(self.algorithm) if self.algorithm else None
        return [
            {"PartNumber": n, "ETag": etag, **({name: value} if name and value else {})}
            for n, (etag, value) in sorted(done.items())
        ]

    def _object_checksums(
        self, done: dict[int, tuple[str, str | None]], parts: list[PartPlan]
    ) -> ObjectChecksum | None:
        """What the object's checksum must be, from the parts' (no re-read of the file)."""
        if not self.algorithm:
            return None
        digests = [base64.b64decode(done[p.number][1] or "") for p in parts]
        composite = checksums.composite_b64(self.algorithm, digests)
        full = None
        if self.algorithm in checksums.CRC_ALGORITHMS:
            full = checksums.combine_parts_b64(
                self.algorithm, [(d, p.size) for d, p in zip(digests, parts, strict=True)]
            )
        return ObjectChecksum(self.algorithm, self.checksum_type or "COMPOSITE", composite, full)

    def _complete_args(self, expected: ObjectChecksum | None) -> dict[str, Any]:
        if self.if_none_match:
            return {"IfNoneMatch": "*", **self._checksum_args(expected)}
        return self._checksum_args(expected)

    def _checksum_args(self, expected: ObjectChecksum | None) -> dict[str, Any]:
        if expected is None or expected.checksum_type != "FULL_OBJECT":
            return {}
        # the store checks the object against the whole file's CRC we name here
        return {"ChecksumType": "FULL_OBJECT", checksums.param_name(expected.algorithm):
                expected.full}  # fmt: skip

    def _send_parts(
        self,
        todo: list[PartPlan],
        sender: PartSender,
        part_size: int,
        tracker: TransferProgress,
        done: dict[int, tuple[str, str | None]],
    ) -> None:
        """Send `todo` on the parallel runner (one reused part buffer per worker), recording
        (etag, crc) in `done`; the first error stops parts not yet started and is raised once
        the running ones have finished."""
        lock = threading.Lock()
        buffer_size = part_buffer_size(
            part_size, self.client.config.chunk_size, self.plan_workers
        )
        runner: ParallelRunner[PartPlan, None] = ParallelRunner(
            self.workers,
            name="orbit-upload",
            buffer_factory=lambda: new_part_buffer(buffer_size),
            tune=True,
            throttle=self.client.throttle,
        )

        algorithm = self.algorithm

        def send_one(part: PartPlan) -> None:
            with_md5 = bool(algorithm) and self.client.store_ignores_crc32
            if part.size > buffer_size:
                # a part larger than the buffer: checksums in pieces, then sent in pieces
                buf = runner.buffer()
                values, md5 = self.local.digests(
                    part.offset, part.size, buf, algorithms=(algorithm or "CRC32",), md5=with_md5
                )
                crc = _b64(values[algorithm]) if algorithm else None
                span = FileSpan(self.local, part.offset, part.size)
                resp = sender.send_file(part.number, span, buf, crc, _md5_b64(md5))

                def our_md5() -> str:
                    return md5 or self.local.digests(
                        part.offset, part.size, buf, algorithms=(), md5=True
                    )[1] or ""
            else:
                if sender.reuses_buffers:
                    data: bytes | memoryview = self.local.read_into(
                        runner.buffer()[: part.size], part.offset
                    )
                else:
                    data = self.local.read(part.offset, part.size)
                crc = _b64(part_checksum(algorithm, data)) if algorithm else None
                md5 = part_md5(data) if with_md5 else None
                resp = sender.send(part.number, data, crc, _md5_b64(md5))

                def our_md5() -> str:
                    return md5 or part_md5(data)
            self.client.check_stored(
                self.key, crc, resp, f"part {part.number}", our_md5, algorithm or "CRC32"
            )
            with lock:
                done[part.number] = (resp["ETag"], crc)
            tracker.advance(part.size)
            tracker.part_done(part.number, part.size)

        runner.run(todo, send_one)

    def _abort_quietly(self, upload_id: str) -> None:
        """Abort an upload that can never complete; a failure only leaves it for
        abort_incomplete_uploads."""
        try:
            self.client.call("abort_multipart_upload", key=self.key, UploadId=upload_id)
        except S3Error as exc:
            log.warning("could not abort upload %s of s3://%s/%s: %s", upload_id,
                        self.client.bucket, self.key, exc)  # fmt: skip

    def _drop_if_unusable(self, resume: ResumePlan) -> bool:
        """The file changed under the upload: abort the upload (this call's, so provably
        ours) unless a stored part still holds the file as it is now, which a retry then
        resumes. Returns whether it was aborted; a failure to look or abort keeps it."""
        try:
            try:
                with LocalFile(self.local.path) as now:
                    plan = examine(
                        self.client, self.key, now, resume.upload_id, [resume.part_size],
                        self.algorithm,
                    )  # fmt: skip
            except ConfigError:  # the file is gone or unreadable: nothing to resume it for
                plan = None
            if plan is not None and plan.verified:
                return False
            self.client.call("abort_multipart_upload", key=self.key, UploadId=resume.upload_id)
        except S3Error as exc:
            log.warning("could not check or abort upload %s of s3://%s/%s: %s",
                        resume.upload_id, self.client.bucket, self.key, exc)  # fmt: skip
            return False
        log.info("aborted upload %s of s3://%s/%s: the file changed and none of its parts "
                 "holds it any more", resume.upload_id, self.client.bucket, self.key)  # fmt: skip
        return True

    def _interrupted(
        self, exc: BaseException, token: ResumeToken, parts_done: int, parts_total: int
    ) -> UploadInterrupted:
        code = getattr(exc, "code", None) or type(exc).__name__
        return UploadInterrupted(
            f"upload of {self.local.path} to s3://{self.client.bucket}/{self.key} was "
            f"interrupted with {parts_done} of {parts_total} parts stored: {exc}. "
            f"The multipart upload {token.upload_id} was kept and can be resumed: call "
            "upload_file again with the same file and key (from any process), or pass "
            "this error's resume_token",
            upload_id=token.upload_id,
            resume_token=str(token),
            bucket=self.client.bucket,
            key=self.key,
            code=code,
            status=getattr(exc, "status", None),
        )

    def _verify_object(self, complete: dict, expected: ObjectChecksum | None) -> dict:
        """HEAD the completed object: its size, and its checksum when the store reports one.
        Returns the HEAD."""
        head = self.client.head(self.key, version_id=_version(complete.get("VersionId")))
        self._check_head(head, expected)
        return head

    def _check_head(self, head: dict, expected: ObjectChecksum | None) -> None:
        problem = None
        if int(head.get("ContentLength", -1)) != self.local.size:
            problem = f"size {head.get('ContentLength')} != {self.local.size} bytes sent"
        elif expected is not None:
            problem = expected.mismatch(head)
        if problem:
            raise IntegrityError(
                f"s3://{self.client.bucket}/{self.key}: the completed object does not match "
                f"the file: {problem}",
                bucket=self.client.bucket,
                key=self.key,
            )


#: what a store answers to a part or Complete whose checksum algorithm or type is not the
#: upload's (SeaweedFS: InvalidRequest; S3: InvalidRequest, or InvalidPart at Complete).
#: SeaweedFS answers BadDigest to a FULL_OBJECT Complete of a COMPOSITE upload: at Complete
#: of a resumed upload (whose parts were each verified) that is taken as the same refusal
SETTINGS_REFUSED = frozenset({"InvalidRequest", "InvalidPart", "InvalidArgument"})


class _SettingsRefused(Exception):
    """A resumed upload refused this call's checksum settings (see run())."""


@dataclass(frozen=True)
class ObjectChecksum:
    """What a multipart object's checksum must be: the composite of the parts' checksums
    ('xxx==-N') and, for a CRC, the whole file's (combined from the parts' CRCs)."""

    algorithm: str
    checksum_type: str  # what was asked for: COMPOSITE or FULL_OBJECT
    composite: str
    full: str | None = None

    @property
    def stored(self) -> str:
        """The value the object is to carry, as asked for."""
        return self.full if self.checksum_type == "FULL_OBJECT" and self.full else self.composite

    def mismatch(self, head: dict) -> str | None:
        """Compare with a HeadObject's checksum of our algorithm, whichever kind the store
        kept: 'xxx==-N' is a composite; a bare value is the whole object's when the store
        says FULL_OBJECT, a composite without its '-N' when it says COMPOSITE (as moto
        reports it), and may be either when it says neither (moto after a copy). None when
        it matches or the store reports no checksum of our algorithm."""
        returned = head.get(checksums.param_name(self.algorithm))
        if not returned:
            return None
        kind = head.get("ChecksumType")
        bare = self.composite.split("-", 1)[0]
        if "-" in returned:
            expected = [self.composite]
        elif kind == "FULL_OBJECT":
            expected = [self.full]
        elif kind == "COMPOSITE":
            expected = [bare]
        else:
            expected = [self.full, bare]
        known = [value for value in expected if value]
        if not known or returned in known:
            return None
        return f"{self.algorithm} {returned} != {' or '.join(known)}"


def _stored_checksum(head: dict, expected: ObjectChecksum | None) -> str | None:
    """The object's checksum of our algorithm as the store reports it (a rewrite may have
    made it a whole-object one), else the one we asked for."""
    if expected is None:
        return None
    return head.get(checksums.param_name(expected.algorithm)) or expected.stored


def composite_mismatch(composite: str, head: dict) -> str | None:
    """Compare our composite CRC32 'xxx==-N' with a HeadObject's ChecksumCRC32 (see
    ObjectChecksum.mismatch; a FULL_OBJECT one is not compared without the file's CRC)."""
    return ObjectChecksum("CRC32", "COMPOSITE", composite).mismatch(head)


def new_part_buffer(size: int) -> memoryview:
    """One worker's reusable part buffer (a seam for tests that watch memory). Its pages are
    mapped in one call where the OS allows (MAP_POPULATE): a bytearray's memset faults 8 MiB
    in page by page, 5 ms of CPU here, the cost of reading ten parts into a warm buffer."""
    populate = getattr(mmap, "MAP_POPULATE", 0)
    if populate and size:
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate
        try:
            return memoryview(mmap.mmap(-1, size, flags=flags))
        except OSError:
            pass  # refused (memory limits): the ordinary way
    return memoryview(bytearray(size))


def part_md5(data: bytes | memoryview) -> str:
    """The MD5 (hex) of one part, sent as Content-MD5 to stores without flexible checksums
    (a seam for tests, like part_crc32)."""
    return checksums.md5_hex(data)


def _md5_b64(md5_hex: str | None) -> str | None:
    return checksums.b64_of_hex(md5_hex) if md5_hex else None


def part_crc32(data: bytes | memoryview) -> int:
    """The CRC32 of one part (a seam for tests that corrupt one part's checksum)."""
    return checksums.crc32(data)


def part_checksum(algorithm: str, data: bytes | memoryview) -> bytes:
    """The raw `algorithm` checksum of one part (CRC32 through the part_crc32 seam)."""
    if algorithm == "CRC32":
        return part_crc32(data).to_bytes(4, "big")
    check = checksums.StreamingChecksum(algorithm)
    check.update(data)
    return check.digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")
