"""The transfer core: boto3 + tenacity + pendulum. Never imports Airflow."""

from orbit_provider.s3 import errors
from orbit_provider.s3.client import S3Client
from orbit_provider.s3.config import (
    Credentials,
    S3Config,
    ServerSideEncryption,
    StorageClass,
)
from orbit_provider.s3.models import (
    CopyResult,
    DeleteResult,
    ListPage,
    ObjectMetadata,
    ObjectSummary,
    PutResult,
)
from orbit_provider.s3.progress import (
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

__all__ = [
    "Backoff",
    "BatchProgress",
    "CircuitBreaker",
    "CopyResult",
    "Credentials",
    "DeleteResult",
    "ListPage",
    "ObjectMetadata",
    "ObjectSummary",
    "PartCompleted",
    "Progress",
    "ProgressAggregator",
    "ProgressEvent",
    "ProgressReporter",
    "PutResult",
    "RetryPolicy",
    "S3Client",
    "S3Config",
    "ServerSideEncryption",
    "StorageClass",
    "ThroughputTracker",
    "TransferCompleted",
    "TransferFailed",
    "TransferStarted",
    "TransferStats",
    "errors",
    "with_retry",
]
