"""Fixtures shared by the transfer tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 20 MiB tmpfs, unmounted afterwards; skipped unless root may mount one here."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "none", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def sigkill_when(proc: subprocess.Popen, ready: Callable[[], bool], what: str,
                 timeout: float = 120) -> None:  # fmt: skip
    """SIGKILL `proc` (no cleanup runs in it) as soon as `ready()` holds; fail the test if
    the child ends first or `ready` never holds (`what`: the condition, for the message)."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        else:
            pytest.fail(f"the child never got to the point to kill it at: {what}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
