"""Benchmarks (not tests): orbit_provider against boto3 and the amazon provider on SeaweedFS.

`python -m benchmarks.transfer` measures large-file upload and download;
`python -m benchmarks.batch` measures bulk delete and copy. Each measured client runs in
its own fresh subprocess (`benchmarks.worker`) so its CPU time and peak RSS are its own.
"""
