"""Run one upload_file in a child process, for the kill-and-resume test in test_upload.py.

Usage: python upload_child.py BUCKET PATH KEY MAX_BANDWIDTH  (endpoint and credentials come
from ORBIT_TEST_ENDPOINT, ORBIT_TEST_ACCESS_KEY, ORBIT_TEST_SECRET_KEY). One part at a time
and a bandwidth limit make it slow enough to be killed part-way.
"""

from __future__ import annotations

import os
import sys

from orbit_provider.s3 import Credentials, S3Client, S3Config


def main() -> None:
    bucket, path, key, bandwidth = sys.argv[1:5]
    config = S3Config(
        bucket=bucket,
        endpoint=os.environ["ORBIT_TEST_ENDPOINT"],
        region="us-east-1",
        credentials=Credentials(
            os.environ["ORBIT_TEST_ACCESS_KEY"], os.environ["ORBIT_TEST_SECRET_KEY"]
        ),
        force_path_style=True,
        parallel_operations=1,
        max_bandwidth=int(bandwidth),
    )
    result = S3Client(config).upload_file(path, key)
    print(f"finished parts={result.parts}", flush=True)


if __name__ == "__main__":
    main()
