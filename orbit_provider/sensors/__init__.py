"""Sensors: poke / reschedule / defer until an S3 condition from s3/conditions.py holds."""
