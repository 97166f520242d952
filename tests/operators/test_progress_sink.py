"""ProgressSink: bounded-rate log lines and XCom pushes, from events on many threads."""

from __future__ import annotations

import threading

import pytest

from orbit_provider.operators.progress_sink import (
    XCOM_KEY,
    ProgressSettings,
    ProgressSink,
    format_line,
    run_with_progress,
    sink_for,
)
from orbit_provider.s3.errors import ConfigError
from orbit_provider.s3.progress import (
    BatchProgress,
    Progress,
    TransferCompleted,
    TransferFailed,
    TransferProgress,
    TransferStarted,
)

MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class FakeTI:
    """Records xcom_push calls and the thread that made them."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, dict]] = []
        self.threads: set[str] = set()

    def xcom_push(self, key: str, value) -> None:
        self.pushes.append((key, value))
        self.threads.add(threading.current_thread().name)


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, fmt: str, *args) -> None:
        self.lines.append(fmt % args)


def progress(done: int, total: int = 100 * MIB, parts_done: int = 0, tid: str = "t1"):
    return Progress(tid, "big.bin", done, total, 100.0 * done / total, 0.0, None, parts_done, 20)


def make_sink(**options):
    clock, log, pushes = FakeClock(), Lines(), []
    sink = ProgressSink(push=pushes.append, log=log, clock=clock, **options)
    return sink, clock, log, pushes


def test_log_lines_are_rate_limited_but_every_ten_percent_step_logs():
    sink, clock, log, _ = make_sink(log_interval=5.0, xcom_interval=1000)
    sink(TransferStarted("t1", "upload", "big.bin", 100 * MIB, parts=20))
    for done_mib in range(1, 101):  # 1 MiB every 0.1 s: 10 s in total
        clock.tick(0.1)
        sink(progress(done_mib * MIB, parts_done=done_mib // 5))
        sink.flush()
    percents = [line.split()[3] for line in log.lines]
    # one line per 10% step (1% is the first step crossing 0), never more than that
    assert percents == ["1.0%"] + [f"{p}.0%" for p in range(10, 101, 10)]
    assert "parts 20/20" in log.lines[-1]


def test_without_new_steps_lines_come_every_interval():
    sink, clock, log, _ = make_sink(log_interval=5.0, step_percent=10)
    sink(TransferStarted("t1", "upload", "big.bin", 1000 * MIB, parts=200))
    done = 0
    for _ in range(120):  # 12 s at 1 MiB / 0.1 s: stays below 2%
        clock.tick(0.1)
        done += MIB // 10
        sink(progress(done, 1000 * MIB))
        sink.flush()
    # the 0% step at the first flush, then one every 5 s
    assert len(log.lines) == 3


def test_nothing_is_logged_or_pushed_without_new_events():
    sink, clock, log, pushes = make_sink(log_interval=5.0, xcom_interval=2.0)
    sink.flush()
    sink(progress(10 * MIB))
    sink.flush()
    count_lines, count_pushes = len(log.lines), len(pushes)
    for _ in range(10):
        clock.tick(10)
        sink.flush()
    assert (len(log.lines), len(pushes)) == (count_lines, count_pushes) == (1, 1)


def test_xcom_pushes_are_rate_limited_and_carry_the_latest_values():
    sink, clock, log, pushes = make_sink(xcom_interval=2.0, log_interval=1000)
    sink(TransferStarted("t1", "upload", "big.bin", 100 * MIB, parts=20))
    for done_mib in range(1, 51):  # 5 s of events, flushed every 0.1 s
        clock.tick(0.1)
        sink(progress(done_mib * MIB, parts_done=done_mib // 5))
        sink.flush()
    assert 2 <= len(pushes) <= 3
    latest = pushes[-1]
    assert latest["bytes_done"] <= 50 * MIB and latest["bytes_total"] == 100 * MIB
    assert latest["kind"] == "transfer" and latest["operation"] == "upload"
    assert latest["rate_mib_s"] == pytest.approx(10.0, rel=0.05)
    assert latest["eta_seconds"] == pytest.approx(
        (100 * MIB - latest["bytes_done"]) / (10 * MIB), rel=0.05
    )
    clock.tick(0.1)
    sink(TransferCompleted("t1", "big.bin", 100 * MIB, 10.0, 10 * MIB))
    sink.flush(final=True)
    final = pushes[-1]
    assert final["final"] is True and final["percent"] == 100.0
    assert final["objects_done"] == 1 and final["parts_done"] == 20
    assert log.lines[-1].endswith("[final]")


def test_batch_progress_lines_and_values():
    sink, clock, log, pushes = make_sink()
    sink(BatchProgress("copy", completed=250, successful=248, failed=2, total=1000))
    sink.flush()
    assert log.lines == ["orbit progress: copy 250/1000 (25.0%), succeeded 248, failed 2"]
    assert pushes[-1] == {
        "kind": "batch", "operation": "copy", "done": 250, "total": 1000, "succeeded": 248,
        "failed": 2, "percent": 25.0, "final": False,
    }  # fmt: skip
    sink(BatchProgress("copy", completed=300, successful=298, failed=2, total=None))
    sink.flush(final=True)
    assert "copy 300/?, succeeded 298" in log.lines[-1]


def test_several_transfers_add_up_with_a_known_total():
    sink, clock, log, pushes = make_sink(total_bytes=30 * MIB, total_objects=3)
    for tid in ("a", "b"):
        sink(TransferStarted(tid, "upload", f"{tid}.bin", 10 * MIB))
        clock.tick(1)
        sink(TransferCompleted(tid, f"{tid}.bin", 10 * MIB, 1.0, 10 * MIB))
    sink(TransferStarted("c", "upload", "c.bin", 10 * MIB))
    sink(TransferFailed("c", "c.bin", "boom", 0))
    sink.flush(final=True)
    snap = pushes[-1]
    assert (snap["bytes_done"], snap["bytes_total"], snap["percent"]) == (20 * MIB, 30 * MIB, 66.7)
    assert (snap["objects_done"], snap["objects_failed"], snap["objects_total"]) == (2, 1, 3)
    assert "objects 2/3 (1 failed)" in log.lines[-1]


def test_resumed_bytes_count_as_done_but_not_as_throughput():
    sink, clock, log, pushes = make_sink()
    sink(TransferStarted("t1", "upload", "big.bin", 100 * MIB, parts=20, resumed_bytes=60 * MIB))
    clock.tick(1)
    sink(progress(70 * MIB))
    sink.flush(final=True)
    snap = pushes[-1]
    assert snap["percent"] == 70.0
    assert snap["rate_mib_s"] == pytest.approx(10.0, rel=0.05)


def test_events_from_many_threads_are_all_counted():
    sink, clock, log, pushes = make_sink()
    reporter = sink.reporter()
    tracker = TransferProgress(reporter, "upload", "big.bin", 64 * MIB, parts_total=64)
    tracker.start()

    def part(n: int) -> None:
        tracker.advance(MIB)
        tracker.part_done(n, MIB)

    threads = [threading.Thread(target=part, args=(n,)) for n in range(1, 65)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tracker.complete()
    sink.flush(final=True)
    snap = pushes[-1]
    assert (snap["bytes_done"], snap["parts_done"], snap["objects_done"]) == (64 * MIB, 64, 1)


def test_run_with_progress_pushes_from_the_calling_thread_only():
    ti = FakeTI()
    log = Lines()
    started, release = threading.Event(), threading.Event()

    def work(reporter):
        tracker = TransferProgress(reporter, "download", "k", 10 * MIB, parts_total=2)
        tracker.start()
        tracker.advance(5 * MIB)
        tracker.part_done(1, 5 * MIB)
        started.set()
        release.wait(5)
        tracker.advance(5 * MIB)
        tracker.part_done(2, 5 * MIB)
        tracker.complete()
        return "result"

    def releaser():
        started.wait(5)
        release.set()

    threading.Thread(target=releaser).start()
    result = run_with_progress(
        {"ti": ti}, work, log=log, poll_interval=0.01, settings=ProgressSettings(xcom=True),
        xcom_interval=0,
    )
    assert result == "result"
    assert ti.threads == {threading.current_thread().name}
    assert all(key == XCOM_KEY for key, _ in ti.pushes)
    assert ti.pushes[-1][1]["final"] is True and ti.pushes[-1][1]["percent"] == 100.0
    assert log.lines[-1].startswith("orbit progress: download 100.0%")


def test_run_with_progress_reraises_after_a_final_push():
    ti = FakeTI()

    def work(reporter):
        reporter.emit(BatchProgress("delete", 3, 2, 1, 10))
        raise RuntimeError("S3 said no")

    with pytest.raises(RuntimeError, match="S3 said no"):
        run_with_progress(
            {"ti": ti}, work, log=Lines(), poll_interval=0.01,
            settings=ProgressSettings(xcom=True),
        )
    assert ti.pushes[-1][1]["final"] is True and ti.pushes[-1][1]["done"] == 3


def test_without_a_task_instance_it_only_logs():
    log = Lines()
    sink = sink_for({}, log=log, settings=ProgressSettings(xcom=True))
    sink(progress(50 * MIB))
    sink.flush(final=True)
    assert log.lines[-1].startswith("orbit progress: transfer 50.0%")


def test_format_line_for_an_unknown_rate():
    snap = {"kind": "transfer", "operation": "upload", "percent": 0.0, "bytes_done": 0,
            "bytes_total": 0, "rate_mib_s": 0.0, "eta_seconds": None, "parts_done": 0,
            "parts_total": 0, "objects_total": 1, "objects_done": 0, "objects_failed": 0,
            "final": False}  # fmt: skip
    assert format_line(snap) == "orbit progress: upload 0.0% (0.0/0.0 MiB), 0.0 MiB/s, ETA ?"


def test_without_settings_nothing_is_pushed_and_the_log_line_stays():
    ti, log = FakeTI(), Lines()

    def work(reporter):
        reporter.emit(BatchProgress("delete", 3, 3, 0, 3))
        return "done"

    assert run_with_progress({"ti": ti}, work, log=log, poll_interval=0.01) == "done"
    assert ti.pushes == []
    assert log.lines[-1] == "orbit progress: delete 3/3 (100.0%), succeeded 3, failed 0 [final]"


def test_settings_come_from_the_operator_then_the_orbit_config_then_defaults(monkeypatch):
    for name in ("PROGRESS_XCOM", "PROGRESS_XCOM_INTERVAL", "PROGRESS_LOG_INTERVAL"):
        monkeypatch.delenv(f"AIRFLOW__ORBIT__{name}", raising=False)
    assert ProgressSettings.resolve() == ProgressSettings(False, 2.0, 5.0)
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_XCOM", "true")
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_XCOM_INTERVAL", "30")
    monkeypatch.setenv("AIRFLOW__ORBIT__PROGRESS_LOG_INTERVAL", "60")
    assert ProgressSettings.resolve() == ProgressSettings(True, 30.0, 60.0)
    assert ProgressSettings.resolve(xcom=False, log_interval=1) == ProgressSettings(
        False, 30.0, 1
    )


def test_the_sink_follows_its_settings_and_explicit_options_win():
    ti = FakeTI()
    sink = sink_for({"ti": ti}, settings=ProgressSettings(True, 7.0, 9.0))
    assert (sink.xcom_interval, sink.log_interval) == (7.0, 9.0)
    sink(progress(MIB))
    sink.flush()
    assert [key for key, _ in ti.pushes] == [XCOM_KEY]
    sink = sink_for({"ti": ti}, settings=ProgressSettings(True, 7.0, 9.0), log_interval=1.0)
    assert sink.log_interval == 1.0
    quiet = sink_for({"ti": FakeTI()}, settings=ProgressSettings(xcom=False))
    quiet(progress(MIB))
    quiet.flush(final=True)
    assert quiet.snapshot()["final"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [("PROGRESS_XCOM", "maybe"), ("PROGRESS_XCOM_INTERVAL", "-1"),
     ("PROGRESS_LOG_INTERVAL", "soon")],
)  # fmt: skip
def test_a_bad_orbit_config_value_is_a_config_error_naming_it(monkeypatch, name, value):
    monkeypatch.setenv(f"AIRFLOW__ORBIT__{name}", value)
    with pytest.raises(ConfigError, match=name.lower()):
        ProgressSettings.resolve()
