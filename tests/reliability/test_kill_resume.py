"""kill -9 of a DAG task in the middle of a download; the retry, a new process, resumes.

The upload counterpart (same child-process approach) is
tests/operators/test_dag_runs.py::test_a_killed_upload_task_resumes_in_the_next_try: it
asserts the retry sends exactly the parts S3 did not hold (bytes_transferred == size - stored
parts), so nothing stored is sent twice and only the parts in flight at the kill (at most
parallel_operations x chunk_size) were sent by both tries.

Here the download task is killed (SIGKILL to its process group) once its state record
shows finished ranges; a new process runs the task again. Measured exactly:
- resumed bytes == the bytes of the ranges the state record held at the kill;
- bytes fetched twice (received by the killed try, not recorded, fetched again) are found in
  the temporary file: blocks of unfinished ranges that already hold the object's bytes. They
  stay within parallel_operations x range size (the ranges in flight at the kill).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from orbit_provider.s3.config import MIB
from tests.reliability.download_dag_child import CHUNK, PARALLEL

BLOCK = 64 * 1024


def fetched_but_unrecorded(temp: Path, data: bytes, done: set[int], range_size: int) -> int:
    """Bytes of the temporary file, outside the recorded ranges, equal to the object's."""
    found = 0
    with open(temp, "rb") as fh:
        for offset in range(0, len(data), BLOCK):
            if offset // range_size in done:
                continue
            fh.seek(offset)
            block = fh.read(BLOCK)
            expected = data[offset: offset + len(block)]
            if block and block == expected:
                found += len(block)
    return found


def test_a_killed_download_task_resumes_in_a_new_process(orbit_conn, seaweed_client, tmp_path,
                                                         airflow_db):  # fmt: skip
    size = 48 * MIB  # 6 ranges of 8 MiB, 2 in flight at a time
    data = os.urandom(size)
    key = "dumps/big.bin"
    seaweed_client.upload_bytes(data, key)
    dest = tmp_path / "out" / "big.bin"
    dest.parent.mkdir()
    temp = dest.with_name(".big.bin.orbit-part")
    state_file = dest.with_name(".big.bin.orbit-part.json")
    script = Path(__file__).with_name("download_dag_child.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))

    def child(bandwidth: str, out: Path) -> subprocess.Popen:
        with open(out.with_suffix(".log"), "wb") as log:  # a file: a full pipe would block it
            return subprocess.Popen(
                [sys.executable, str(script), key, str(dest), bandwidth, str(out)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def tail(out: Path) -> str:
        return out.with_suffix(".log").read_text(errors="replace")[-3000:]

    def recorded() -> dict:
        try:
            return json.loads(state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    first = child(str(6 * MIB), tmp_path / "first.json")
    try:
        deadline = time.monotonic() + 180
        while len(recorded().get("done", {})) < 2:
            assert first.poll() is None, tail(tmp_path / "first.json")
            assert time.monotonic() < deadline, "the task never finished two ranges"
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert not dest.exists() and not (tmp_path / "first.json").exists()
    state = recorded()
    assert state["range_size"] == CHUNK
    done = {int(i) for i in state["done"]}
    assert 2 <= len(done) < 6
    on_disk = sum(min(CHUNK, size - i * CHUNK) for i in done)
    refetch = fetched_but_unrecorded(temp, data, done, CHUNK)
    assert refetch <= PARALLEL * CHUNK

    second = child("none", tmp_path / "second.json")
    second.communicate(timeout=300)
    assert second.returncode == 0, tail(tmp_path / "second.json")
    outcome = json.loads((tmp_path / "second.json").read_text())
    assert outcome["state"] == "success"
    (result,) = outcome["summary"]["objects"]
    assert result["resumed_bytes"] == on_disk  # every recorded range was kept...
    assert outcome["summary"]["bytes_transferred"] == size - on_disk  # ...and not fetched again
    assert dest.read_bytes() == data
    assert not temp.exists() and not state_file.exists()
