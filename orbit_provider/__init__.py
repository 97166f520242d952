"""orbit_provider: fast, resumable, verified S3 transfers for Apache Airflow."""

__version__ = "0.1.0"

_INTEGRATION = "Orbit S3"
#: The how-to pages (docs/howto/<name>.md), one per operator and sensor.
_HOWTO = [
    "upload", "download", "sync", "list_keys", "batch_copy", "batch_delete", "batch_tag",
    "batch_metadata", "storage_class", "aggregate_summaries", "archive_restore", "create_bucket",
    "delete_bucket", "create_object", "copy_object", "lifecycle_expiration",
    "abort_incomplete_uploads", "versioning", "restore_version", "rollback_prefix",
    "object_sensor", "archive_restore_sensor", "prefix_unchanged_sensor",
]


def _modules(package: str, names: list[str]) -> list[dict]:
    return [{"integration-name": _INTEGRATION,
             "python-modules": [f"orbit_provider.{package}.{n}" for n in names]}]  # fmt: skip


def get_provider_info() -> dict:
    """Describe this provider to Airflow's providers manager."""
    # The form's fields come from the one table of extras (stdlib only, cheap to import).
    from orbit_provider.hooks.connection_extras import conn_fields, ui_field_behaviour

    return {
        "package-name": "airflow-provider-orbit",
        "name": "Orbit S3",
        "description": "Fast, resumable, verified S3 transfers and bulk object-lifecycle work.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://aws.amazon.com/s3/",
                "how-to-guide": [f"/docs/howto/{name}.md" for name in _HOWTO],
                "tags": ["aws", "s3"],
            },
            {
                "integration-name": "Amazon S3 Batch Operations",
                "external-doc-url": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops.html",
                "how-to-guide": ["/docs/howto/batch_copy.md", "/docs/howto/storage_class.md"],
                "tags": ["aws", "s3"],
            },
        ],
        "connection-types": [
            {
                "connection-type": "orbit_s3",
                "hook-class-name": "orbit_provider.hooks.orbit_s3.OrbitS3Hook",
                "hook-name": "Orbit S3",
                "ui-field-behaviour": ui_field_behaviour(),
                "conn-fields": conn_fields(),
            }
        ],
        "hooks": _modules("hooks", ["orbit_s3"]),
        "operators": _modules(
            "operators",
            ["transfer", "sync", "listing", "uploads", "batch", "versioning", "archive",
             "aggregate", "lifecycle", "objects", "bucket"],
        ),
        "sensors": _modules("sensors", ["object", "archive", "unchanged"]),
        "triggers": _modules("triggers", ["object", "archive", "batch_operations", "unchanged"]),
        "config": {
            "orbit": {
                "description": "Progress reporting of orbit_provider's operators.",
                "options": {
                    "progress_xcom": {
                        "description": "Push the orbit_progress XCom while a task runs (each "
                        "push is a metadata-database write); an operator's progress_xcom wins.",
                        "version_added": "0.1.0", "type": "boolean", "example": None,
                        "default": "False",
                    },
                    "progress_xcom_interval": {
                        "description": "Seconds between two orbit_progress pushes (the "
                        "final push always happens).",
                        "version_added": "0.1.0", "type": "float", "example": None,
                        "default": "2",
                    },
                    "progress_log_interval": {
                        "description": "Seconds between two progress lines in the task log.",
                        "version_added": "0.1.0", "type": "float", "example": None,
                        "default": "5",
                    },
                },
            },
        },
    }
