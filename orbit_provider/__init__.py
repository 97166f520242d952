"""orbit_provider: fast, resumable, verified S3 transfers for Apache Airflow."""

__version__ = "0.1.0"


def get_provider_info() -> dict:
    """Describe this provider to Airflow's providers manager."""
    return {
        "package-name": "airflow-provider-orbit",
        "name": "Orbit S3",
        "description": "Fast, resumable, verified S3 transfers and bulk object-lifecycle work.",
        "versions": [__version__],
    }
