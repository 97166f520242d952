"""Airflow operators: resolve inputs, call the core, report progress, return a summary."""
