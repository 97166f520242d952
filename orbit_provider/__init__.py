"""orbit_provider: fast, resumable, verified S3 transfers for Apache Airflow."""

__version__ = "0.1.0"

_INTEGRATION = "Orbit S3"


def _modules(package: str, names: list[str]) -> list[dict]:
    return [{"integration-name": _INTEGRATION,
             "python-modules": [f"orbit_provider.{package}.{n}" for n in names]}]  # fmt: skip


# Connection form fields (Airflow 3.2+ reads them declaratively; stored in Connection.extra).
_CONN_FIELDS = {
    "region_name": {"label": "Region", "schema": {"type": ["string", "null"]}},
    "endpoint_url": {
        "label": "Endpoint URL",
        "description": "For S3-compatible stores, e.g. http://127.0.0.1:8333. Empty for AWS.",
        "schema": {"type": ["string", "null"], "format": "url"},
    },
    "force_path_style": {"label": "Path-style addressing", "schema": {"type": "boolean"}},
    "bucket": {
        "label": "Default bucket",
        "description": "Used when an operator gives none, and by the connection test.",
        "schema": {"type": ["string", "null"]},
    },
    "aws_session_token": {
        "label": "Session token",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "profile_name": {"label": "AWS profile", "schema": {"type": ["string", "null"]}},
    "role_arn": {
        "label": "Role ARN",
        "description": "Assumed with STS and refreshed automatically.",
        "schema": {"type": ["string", "null"]},
    },
    "external_id": {"label": "External ID (role)", "schema": {"type": ["string", "null"]}},
    "role_session_name": {"label": "Role session name", "schema": {"type": ["string", "null"]}},
    "chunk_size": {
        "label": "Part size (bytes)",
        "schema": {"type": ["integer", "null"], "minimum": 5242880},
    },
    "parallel_operations": {
        "label": "Parallel parts",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "max_bandwidth": {
        "label": "Bandwidth limit (bytes/s)",
        "schema": {"type": ["integer", "null"], "minimum": 1},
    },
    "timeout_seconds": {"label": "Timeout (s)", "schema": {"type": ["number", "null"]}},
    "max_retries": {"label": "Retries", "schema": {"type": ["integer", "null"], "minimum": 0}},
    "verify_checksums": {
        "label": "Verify checksums",
        "schema": {"type": "boolean", "default": True},
    },
    "direct_io": {
        "label": "Direct I/O for large downloads",
        "description": "Write downloads of 32 MiB and more with O_DIRECT (Linux), past the "
        "page cache.",
        "schema": {"type": "boolean", "default": True},
    },
    "storage_class": {"label": "Storage class", "schema": {"type": ["string", "null"]}},
    "server_side_encryption": {
        "label": "Server-side encryption",
        "schema": {"type": ["string", "null"], "enum": [None, "AES256", "aws:kms"]},
    },
    "sse_kms_key_id": {"label": "KMS key id", "schema": {"type": ["string", "null"]}},
}


def get_provider_info() -> dict:
    """Describe this provider to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-orbit",
        "name": "Orbit S3",
        "description": "Fast, resumable, verified S3 transfers and bulk object-lifecycle work.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://aws.amazon.com/s3/",
                "tags": ["aws", "s3"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "orbit_s3",
                "hook-class-name": "orbit_provider.hooks.orbit_s3.OrbitS3Hook",
                "hook-name": "Orbit S3",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port"],
                    "relabeling": {
                        "login": "AWS Access Key ID",
                        "password": "AWS Secret Access Key",
                    },
                },
                "conn-fields": _CONN_FIELDS,
            }
        ],
        "hooks": _modules("hooks", ["orbit_s3"]),
        "operators": _modules(
            "operators",
            ["transfer", "listing", "uploads", "batch", "versioning", "archive", "aggregate"],
        ),
        "sensors": _modules("sensors", ["object", "archive"]),
        "triggers": _modules("triggers", ["object", "archive"]),
    }
