"""orbit_provider: fast, resumable, verified S3 transfers for Apache Airflow."""

__version__ = "0.1.0"

_INTEGRATION = "Orbit S3"


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
                "tags": ["aws", "s3"],
            }
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
    }
