"""`make demo`: start SeaweedFS on loopback, move real data through the core, stop the server."""

from __future__ import annotations

import os
import sys
import tempfile
import time

from orbit_provider.s3 import ProgressReporter
from orbit_provider.testing.clients import client_for, create_bucket
from orbit_provider.testing.seaweedfs import SeaweedServer


def main() -> int:
    with SeaweedServer() as server:
        print(f"SeaweedFS S3 on {server.endpoint}")
        bucket = create_bucket(server, "orbit-demo")
        client = client_for(server, bucket)
        put = client.upload_bytes(b"hello, orbit\n", "demo/hello.txt", metadata={"source": "demo"})
        print(f"put s3://{bucket}/demo/hello.txt etag={put.etag}")
        meta = client.get_metadata("demo/hello.txt")
        print(f"head: {meta.size} bytes, {meta.storage_class}, metadata={meta.metadata}")
        copy = client.copy_object("demo/hello.txt", "demo/copy.txt")
        print(f"copied to {copy.dst_key}")
        keys = [o.key for o in client.iter_objects("demo/")]
        print(f"listed: {keys}")
        if hasattr(client, "upload_file"):
            events = []
            reporter = ProgressReporter([events.append])
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "data.bin")
                with open(path, "wb") as f:
                    f.write(os.urandom(32 * 1024 * 1024))
                t = time.monotonic()
                result = client.upload_file(path, "demo/data.bin", progress=reporter)
                took = time.monotonic() - t
            print(
                f"uploaded 32 MiB in {result.parts} parts, {32 / took:.0f} MiB/s, "
                f"{len(events)} progress events"
            )
        print(f"done: data is in s3://{bucket}/demo/ on {server.endpoint} (server now stopped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
