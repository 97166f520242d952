"""Batch work over many keys: configuration and results (models), the engine that runs one
operation over any iterable of keys, and the operations built on it."""

from orbit_provider.s3.batch.models import (
    BatchConfig,
    BatchResult,
    KeyOutcome,
    KeyStatus,
    RestoreStatus,
    is_already,
)

__all__ = ["BatchConfig", "BatchResult", "KeyOutcome", "KeyStatus", "RestoreStatus", "is_already"]
