"""OrbitBaseOperator: what every orbit operator shares (connection, bucket, client, progress,
lineage, error translation). Subclasses implement `execute` and stay a few lines long.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from airflow.sdk import BaseOperator

from orbit_provider.hooks.lineage import asset_extra, attach_asset_extras, openlineage, s3_uri
from orbit_provider.hooks.orbit_s3 import NOTSET, OrbitS3Hook, resolve_conn_id
from orbit_provider.operators.metrics import TaskMetrics, task_tags
from orbit_provider.operators.progress_sink import (
    ProgressSettings,
    check_progress_options,
    run_with_progress,
    sink_for,
)
from orbit_provider.s3.config import validate_bucket_name
from orbit_provider.s3.errors import CircuitOpen, ConfigError, S3Error, UploadInterrupted
from orbit_provider.s3.urls import bucket_and_key, is_s3_url, parse_s3_url

if TYPE_CHECKING:
    from orbit_provider.s3.client import S3Client

from airflow.sdk.exceptions import AirflowException, AirflowFailException

T = TypeVar("T")

#: The deferral kwarg that carries a task's lineage to the try that resumes it.
LINEAGE_KWARG = "orbit_lineage"

# Task-error codes that no retry can fix: bad input, refused credentials or permissions, a
# missing bucket or key, a failed condition, bytes that did not match.
NOT_RETRYABLE_CODES = frozenset({"ConfigError"})


class OrbitTaskError(AirflowException):
    """A core error (bad input or a failed S3 request) turned into a task failure.

    The message names the problem (and the bucket/key when known); it never holds credentials.
    `code` is the core error's kind (e.g. "NotFound", "ConfigError", "UploadInterrupted").
    Built with ``retryable=False`` (or the code "ConfigError") it is an `OrbitTaskFailure`,
    which Airflow fails at once without using the task's retries.
    """

    retryable = True

    def __new__(cls, message: str, *, code: str | None = None, retryable: bool | None = None):
        if cls is OrbitTaskError and (
            retryable is False or (retryable is None and code in NOT_RETRYABLE_CODES)
        ):
            cls = OrbitTaskFailure
        return super().__new__(cls, message)

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.code = code


class OrbitTaskFailure(OrbitTaskError, AirflowFailException):
    """An OrbitTaskError that retrying cannot fix (bad input, AccessDenied, NotFound, ...):
    an AirflowFailException, so the task fails without spending its retries."""

    retryable = False


def is_template(value: Any) -> bool:
    """True when `value` is a Jinja template string not rendered yet."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def is_unrendered(value: Any) -> bool:
    """Not a plain value yet: a Jinja string (or a container holding one), or an XComArg /
    mapped argument (anything Airflow resolves before execute)."""
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, Mapping):
        return any(is_unrendered(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unrendered(v) for v in value)
    return callable(getattr(value, "resolve", None))


def task_error(exc: S3Error) -> OrbitTaskError:
    """The task error for a core error: its kind, its (credential-free) message, and whether
    a retry can help (`exc.retryable`): an OrbitTaskFailure when it cannot."""
    if isinstance(exc, ConfigError):
        return OrbitTaskError(f"invalid input: {exc}", code="ConfigError", retryable=False)
    return OrbitTaskError(
        f"{type(exc).__name__}: {exc}", code=type(exc).__name__, retryable=task_retryable(exc)
    )


def task_retryable(exc: BaseException) -> bool:
    """Whether a task retry can help with this failure. A core error's own `retryable`, except:
    an interrupted upload (kept, resumed by the retry) follows the failure that stopped it, and
    an open circuit breaker (the store kept failing) is worth a later try."""
    if isinstance(exc, UploadInterrupted):
        cause = exc.__cause__ or exc.__context__
        return cause is None or task_retryable(cause)
    if isinstance(exc, CircuitOpen):
        return True
    if isinstance(exc, S3Error):
        return exc.retryable
    return not isinstance(exc, ValueError | TypeError)


def _check_options(client_options: Any, *, rendered: bool = False) -> None:
    """client_options must be a dict of S3Config fields (an XCom value is checked at execute)."""
    if client_options is None or isinstance(client_options, Mapping):
        return
    if not rendered and is_unrendered(client_options):
        return
    raise OrbitTaskError(
        f"client_options: expected a dict of S3Config fields, got {type(client_options).__name__}",
        code="ConfigError",
    )


class OrbitBaseOperator(BaseOperator):
    """Base of orbit_provider's operators.

    :param bucket: The bucket to work on (templated); default: the connection's ``bucket``
        extra. Validated against S3's naming rules when the operator is built (unless it is a
        Jinja template) and again after rendering.
    :param orbit_conn_id: The ``orbit_s3`` (or ``aws``) connection to use (templated).
        Default ``orbit_s3_default``; None, or an id that names no connection, uses boto3's
        standard credential chain (environment, IRSA web identity, ECS, instance profile).
    :param aws_conn_id: Alias of `orbit_conn_id` (the amazon provider's name); giving both
        with different ids is an error when the DAG is parsed.
    :param client_options: S3Config overrides for this task only, e.g.
        ``{"chunk_size": 16 * 1024 * 1024, "parallel_operations": 8, "max_bandwidth": 50_000_000}``.
    :param progress_xcom: push the progress dict to the ``orbit_progress`` XCom while the task
        runs. Default (None): Airflow's ``[orbit] progress_xcom`` config, itself False, since
        every push is a metadata-database write (1,000 mapped tasks would make ~500 a second).
    :param progress_xcom_interval: seconds between those pushes (default ``[orbit]
        progress_xcom_interval``, else 2).
    :param progress_log_interval: seconds between progress lines in the task log (default
        ``[orbit] progress_log_interval``, else 5; a 10% step logs at once).

    Data-aware scheduling: pass ``outlets=[Asset("s3://bucket/prefix")]`` (``airflow.sdk.Asset``)
    to any of these operators; when the task succeeds Airflow records an asset event and queues
    the (unpaused) DAGs scheduled on that asset. Core errors (bad input, failed requests) fail
    the task with an `OrbitTaskError` whose message names the problem and never credentials.
    """

    template_fields: tuple[str, ...] = ("bucket", "orbit_conn_id", "client_options")
    ui_color = "#d9ecff"
    #: The (rendered) arguments that name the task's datasets before it runs, for OpenLineage's
    #: START event (`lineage_plan`): argument -> "inputs" / "outputs" (a key or prefix in
    #: `bucket`) or "local_inputs" / "local_outputs" (a path); an s3:// URL names its own bucket.
    lineage_arguments: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        *,
        bucket: str | None = None,
        orbit_conn_id: str | None = NOTSET,
        aws_conn_id: str | None = NOTSET,
        client_options: Mapping[str, Any] | None = None,
        progress_xcom: bool | None = None,
        progress_xcom_interval: float | None = None,
        progress_log_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._fail_fast(
            lambda: check_progress_options(
                progress_xcom, progress_xcom_interval, progress_log_interval
            )
        )
        self.progress_xcom = progress_xcom
        self.progress_xcom_interval = progress_xcom_interval
        self.progress_log_interval = progress_log_interval
        orbit_conn_id = self._fail_fast(lambda: resolve_conn_id(orbit_conn_id, aws_conn_id))
        if bucket is not None and not is_unrendered(bucket):
            self._fail_fast(lambda: validate_bucket_name(bucket))
        _check_options(client_options)
        self.bucket = bucket
        self.orbit_conn_id = orbit_conn_id
        self.client_options = (
            dict(client_options or {}) if not is_unrendered(client_options) else client_options
        )
        self._lineage_inputs: list[tuple[str, str]] = []
        self._lineage_outputs: list[tuple[str, str]] = []
        self._lineage_local: dict[str, list[str]] = {"inputs": [], "outputs": []}

    # -- the end of a task (or of the part before a deferral) ---------------------------------

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap each subclass's `execute` / `execute_complete` (its own, or a mixin's) so every
        orbit task ends the same way (`task_ended`) without each operator remembering to."""
        super().__init_subclass__(**kwargs)
        for name in ("execute", "execute_complete", "job_complete"):
            method = getattr(cls, name, None)  # its own, or a mixin's (BatchOperationsEngine)
            if callable(method) and not getattr(method, "_orbit_ends_task", False):
                setattr(cls, name, _ending_task(method))

    def task_ended(self, context: Any, result: Any = None, *, succeeded: bool) -> None:
        """Send the task's metrics (operators/metrics.py) and, when it succeeded, describe
        the data in the asset events of its Asset ``outlets`` (bytes, objects, version ids).
        Called once as execute or execute_complete returns, raises or defers."""
        if succeeded and self.outlets:
            totals = self.task_metrics.totals()
            extra = asset_extra(
                result, operation=totals["operation"], bytes_moved=totals["bytes"],
                objects=totals["objects"],
            )  # fmt: skip
            attach_asset_extras(context, self.outlets, extra)
        self.task_metrics.emit()

    @cached_property
    def task_metrics(self) -> TaskMetrics:
        """What this task's core calls did, sent as Airflow metrics when the task ends."""
        name = type(self).__name__.removeprefix("Orbit").removesuffix("Operator").lower()
        return TaskMetrics(tags=task_tags(self), default_operation=name or "task")

    # -- connection ---------------------------------------------------------------------------

    @cached_property
    def hook(self) -> OrbitS3Hook:
        """The hook for `orbit_conn_id` (built once per operator instance)."""
        return OrbitS3Hook(orbit_conn_id=self.orbit_conn_id)

    @cached_property
    def client(self) -> S3Client:
        """The task's S3Client (rendered `bucket`, `client_options`), built on first use.

        Use it only from `execute` (after templates are rendered). A task try runs in its own
        process with a fresh operator, so this is one client per execute.
        """
        return self.get_client()

    def get_client(self, **overrides: Any) -> S3Client:
        """A new S3Client for `bucket` with `client_options` (and `overrides`) applied.

        Validates the (rendered) bucket name first, so a bad name fails before any request.
        """
        _check_options(self.client_options, rendered=True)
        options = {**self.client_options, **{k: v for k, v in overrides.items() if v is not None}}
        bucket = self.bucket

        def build() -> S3Client:
            if bucket is not None:
                validate_bucket_name(bucket)
            return self.hook.get_client(bucket, **options)

        return self.run_checked(build)

    # -- running core calls -------------------------------------------------------------------

    @staticmethod
    def _fail_fast(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except S3Error as exc:
            raise task_error(exc) from exc

    def take_urls(self, *names: str) -> None:
        """Rendered keys, prefixes or key lists given as ``s3://bucket/...`` URLs: each
        becomes its key and names the task's bucket, which must then be unset or the same
        (ConfigError, as a task error, naming the field otherwise)."""

        def strip(value: Any, name: str) -> Any:
            if not is_s3_url(value):
                return value
            bucket, key = bucket_and_key(self.bucket, value, name)
            self.bucket = bucket
            return key

        def take() -> None:
            for name in names:
                value = getattr(self, name, None)
                if isinstance(value, list | tuple):
                    setattr(self, name, [strip(v, name) for v in value])
                else:
                    setattr(self, name, strip(value, name))

        self.run_checked(take)

    def run_checked(self, fn: Callable[[], T]) -> T:
        """Run a core call; core errors become an `OrbitTaskError` naming the problem."""
        return self._fail_fast(fn)

    def run_core(self, context: Any, fn: Callable[[Any], T], **sink_options: Any) -> T:
        """Run `fn(reporter)` with the progress sink (task-log lines, and the `orbit_progress`
        XCom when `progress_xcom` or ``[orbit] progress_xcom`` asks for it).

        Returns what `fn` returns. `sink_options` go to ProgressSink (total_bytes, ...).
        """

        def run() -> T:
            settings = ProgressSettings.resolve(
                xcom=self.progress_xcom,
                xcom_interval=self.progress_xcom_interval,
                log_interval=self.progress_log_interval,
            )
            sink = sink_for(context, log=self.log, settings=settings, **sink_options)
            start = self.task_metrics.measure()
            try:
                return run_with_progress(context, fn, sink=sink)
            finally:
                self.task_metrics.record(start, sink.snapshot())

        return self._fail_fast(run)

    # -- lineage ------------------------------------------------------------------------------

    def add_lineage(
        self,
        *,
        inputs: Iterable[tuple[str, str]] = (),
        outputs: Iterable[tuple[str, str]] = (),
        local_inputs: Iterable[str | os.PathLike] = (),
        local_outputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        """Record what the task read and wrote, and report it to the hook lineage collector.

        :param inputs: (bucket, key or prefix) pairs read from S3.
        :param outputs: (bucket, key or prefix) pairs written to S3.
        :param local_inputs: local files/folders read.
        :param local_outputs: local files/folders written.
        """
        inputs, outputs = list(inputs), list(outputs)
        self._lineage_inputs.extend(inputs)
        self._lineage_outputs.extend(outputs)
        self._lineage_local["inputs"].extend(os.path.abspath(p) for p in local_inputs)
        self._lineage_local["outputs"].extend(os.path.abspath(p) for p in local_outputs)
        self.hook.report_lineage(
            inputs=[*(s3_uri(b, k) for b, k in inputs), *local_inputs],
            outputs=[*(s3_uri(b, k) for b, k in outputs), *local_outputs],
        )

    def lineage_state(self) -> dict[str, list]:
        """What the task reported so far, as JSON (carried across a deferral)."""
        return {
            "inputs": [list(p) for p in self._lineage_inputs],
            "outputs": [list(p) for p in self._lineage_outputs],
            "local_inputs": list(self._lineage_local["inputs"]),
            "local_outputs": list(self._lineage_local["outputs"]),
        }

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict | None = None,
              timeout: Any = None) -> Any:  # fmt: skip
        """Defer like BaseOperator.defer, carrying the lineage reported so far to the try that
        resumes (`resume_execution` reports it again there: a new process, a new collector)."""
        state = self.lineage_state()
        if any(state.values()):
            kwargs = {**(kwargs or {}), LINEAGE_KWARG: state}
        return super().defer(
            trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout
        )

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any
    ) -> Any:
        """Report the lineage carried from before the deferral, then resume as Airflow does."""
        next_kwargs = dict(next_kwargs or {})
        carried = next_kwargs.pop(LINEAGE_KWARG, None)
        if isinstance(carried, Mapping):
            self.add_lineage(
                inputs=[tuple(p) for p in carried.get("inputs", ())],
                outputs=[tuple(p) for p in carried.get("outputs", ())],
                local_inputs=carried.get("local_inputs", ()),
                local_outputs=carried.get("local_outputs", ()),
            )
        return super().resume_execution(next_method, next_kwargs, context)

    def lineage_plan(self) -> dict[str, list]:
        """The datasets known before the work starts, for OpenLineage's START event (same keys
        as `lineage_state`): what the task reported already (a resumed try), else what its
        `lineage_arguments` name. A key or prefix without a bucket argument (the connection's
        bucket, known only once a client is built) is left out."""
        plan = self.lineage_state()
        if any(plan.values()):
            return plan
        bucket = self.bucket
        if not isinstance(bucket, str) or is_template(bucket):
            bucket = None
        for name, role in self.lineage_arguments.items():
            value = getattr(self, name, None)
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str) or is_template(value):
                continue
            side = role.removeprefix("local_")
            if is_s3_url(value):
                try:
                    plan[side].append(list(parse_s3_url(value)))
                except ConfigError:
                    continue  # a bad URL fails the task in execute, with its message
            elif role.startswith("local_"):
                plan[role].append(os.path.abspath(value))
            elif bucket is not None:
                plan[role].append([bucket, value])
        return plan

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage datasets at the task's start (`lineage_plan`); None without the
        OpenLineage provider."""
        plan = self.lineage_plan()
        return openlineage(
            [tuple(p) for p in plan["inputs"]], [tuple(p) for p in plan["outputs"]],
            plan["local_inputs"], plan["local_outputs"],
        )  # fmt: skip

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets of this run: S3 ones (namespace ``s3://bucket``, name = key or
        prefix) and local files/folders (namespace ``file``, name = absolute path), including
        those reported before a deferral.

        Returns None when the OpenLineage provider is not installed.
        """
        return openlineage(
            self._lineage_inputs, self._lineage_outputs,
            self._lineage_local["inputs"], self._lineage_local["outputs"],
        )  # fmt: skip


def _ending_task(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` (an execute or execute_complete) followed by `task_ended`, once per task: a
    subclass's method that calls its parent's through super() ends the task only once."""

    @functools.wraps(method)
    def run(self: OrbitBaseOperator, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_orbit_in_task", False):
            return method(self, *args, **kwargs)
        context = kwargs.get("context", args[0] if args else None)
        self._orbit_in_task = True
        try:
            result = method(self, *args, **kwargs)
        except BaseException:  # a failure, or TaskDeferred (the work before it is done)
            try:
                self.task_ended(context, succeeded=False)
            except Exception as late:  # never hide why the task ended
                self.log.warning("could not report the task's end: %s", late)
            raise
        finally:
            self._orbit_in_task = False
        self.task_ended(context, result, succeeded=True)
        return result

    run._orbit_ends_task = True  # type: ignore[attr-defined]
    return run
