"""One botocore data loader per process: the S3 model, endpoints and rulesets parsed once.

Every boto3 Session starts with a fresh botocore Loader, so each S3Client parsed the S3
service model, the endpoint rules and the partitions again: 60-115 ms of CPU per client,
most of it JSON, paid by every Airflow task, sensor poke and trigger that builds one.
botocore already shares these parsed files between the clients of one session (its
loader's cache; they are read-only); this gives every session the process's one loader.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.loaders

_lock = threading.Lock()
_loader: botocore.loaders.Loader | None = None


def shared_loader() -> botocore.loaders.Loader:
    """The process's botocore Loader (botocore's default search paths)."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = botocore.loaders.create_loader()
        return _loader


def share_data(session: Any) -> Any:
    """Make `session` (a boto3 Session) load botocore data through the shared loader, unless
    its configuration names its own data path (AWS_DATA_PATH or a profile's data_path)."""
    core = session._session
    if core.get_config_variable("data_path"):
        return session
    core.register_component("data_loader", shared_loader())
    return session
