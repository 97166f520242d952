"""Airflow hooks: turn an Airflow connection into core S3Clients (no S3 logic here)."""
