"""The transfer core: boto3 + tenacity + pendulum. Never imports Airflow."""

from orbit_provider.s3 import errors
from orbit_provider.s3.batch import BatchConfig, BatchResult, KeyOutcome, RestoreStatus
from orbit_provider.s3.batch.batch_operations import JobOutcome, JobPlan, JobSettings
from orbit_provider.s3.batch.job_engine import JobFailed, JobWaitTimeout
from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import (
    Credentials,
    S3Config,
    ServerSideEncryption,
    StorageClass,
)
from orbit_provider.s3.errors import LocalWriteError
from orbit_provider.s3.models import (
    CopyResult,
    DeleteResult,
    ListPage,
    ObjectMetadata,
    ObjectSummary,
    PutResult,
)
from orbit_provider.s3.progress import (
    AggregateProgress,
    BatchProgress,
    PartCompleted,
    Progress,
    ProgressAggregator,
    ProgressEvent,
    ProgressReporter,
    ThroughputTracker,
    TransferCompleted,
    TransferFailed,
    TransferStarted,
    TransferStats,
)
from orbit_provider.s3.recovery import Backoff, CircuitBreaker, RetryPolicy, with_retry
from orbit_provider.s3.transfer.download import DownloadResult
from orbit_provider.s3.transfer.incomplete_uploads import IncompleteUpload
from orbit_provider.s3.transfer.paths import safe_join
from orbit_provider.s3.transfer.upload import UploadResult
from orbit_provider.s3.transfer.upload_resume import ResumeToken
from orbit_provider.s3.versions.rollback import RollbackAction, RollbackPlan, RollbackResult
from orbit_provider.s3.versions.versioning import (
    DeleteMarker,
    ObjectVersion,
    TimeRestore,
    VersionComparison,
    VersioningStatus,
    VersionListing,
)

__all__ = [
    "AggregateProgress",
    "JobFailed",
    "JobOutcome",
    "JobPlan",
    "JobSettings",
    "JobWaitTimeout",
    "LocalWriteError",
    "Backoff",
    "BatchConfig",
    "BatchProgress",
    "BatchResult",
    "CircuitBreaker",
    "CopyResult",
    "Credentials",
    "DeleteMarker",
    "DeleteResult",
    "IncompleteUpload",
    "DownloadResult",
    "KeyOutcome",
    "ListPage",
    "ObjectMetadata",
    "ObjectSummary",
    "ObjectVersion",
    "PartCompleted",
    "Progress",
    "ProgressAggregator",
    "ProgressEvent",
    "ProgressReporter",
    "PutResult",
    "ResumeToken",
    "RestoreStatus",
    "RetryPolicy",
    "RollbackAction",
    "RollbackPlan",
    "RollbackResult",
    "S3Client",
    "S3Config",
    "safe_join",
    "ServerSideEncryption",
    "StorageClass",
    "TimeRestore",
    "ThroughputTracker",
    "TransferCompleted",
    "TransferFailed",
    "TransferStarted",
    "TransferStats",
    "UploadResult",
    "VersionComparison",
    "VersionListing",
    "VersioningStatus",
    "errors",
    "with_retry",
]
