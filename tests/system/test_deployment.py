"""The provider in a real Airflow deployment (tests/system/conftest.py), driven as users drive
it, through the REST API: every example triggered without and with a logical date, the
asset-scheduled reader, a deferrable sensor resumed by the triggerer process, the connection
form's fields, and a task killed mid-upload whose retry resumes the multipart upload."""

from __future__ import annotations

import hashlib
import os
import signal

import pendulum
import pytest

from orbit_provider.testing.clients import client_for, create_bucket
from orbit_provider.testing.deployment import wait_for

MIB = 1024 * 1024
LOGICAL_DATE = "2026-01-15T00:00:00Z"


def test_the_connection_form_is_served_by_the_api_server(system):
    # Airflow 3.3 serves the form's metadata on the UI API (the issue's /api/v2 path is 404)
    hooks = {h["connection_type"]: h for h in system.api.get("/ui/connections/hook_meta")}
    orbit = hooks["orbit_s3"]
    assert orbit["hook_class_name"] == "orbit_provider.hooks.orbit_s3.OrbitS3Hook"
    fields = orbit["extra_fields"]
    for name in ("endpoint_url", "region_name", "force_path_style", "bucket", "max_bandwidth"):
        assert name in fields, sorted(fields)
    assert fields["force_path_style"]["schema"]["type"] == "boolean"


@pytest.mark.timeout(600)  # about a hundred task runs on two cores shared with others
def test_every_example_runs_without_and_with_a_logical_date(system):
    api, seaweed = system.api, client_for(system.seaweed, system.bucket)
    rollback_bucket = create_bucket(system.seaweed)  # versioning stays out of the shared bucket
    for source in ("raw-a/", "raw-b/"):
        for i in range(8):
            seaweed.upload_bytes(f"{source},{i}\n".encode() * (i + 1), f"{source}part-{i:02d}.csv")
    scratch = [create_bucket(system.seaweed) for _ in range(2)]
    # each example's params for its run without and its run with a logical date: two runs of
    # one DAG at once must not work on the same keys
    confs = {
        "orbit_example_lake_ingestion": [{"files": 2, "large_mib": 6}] * 2,
        "orbit_example_backup_archive": [{"rows": 20_000}] * 2,
        "orbit_example_batch_archive": [{"source_prefix": "raw-a/"}, {"source_prefix": "raw-b/"}],
        "orbit_example_version_rollback": [
            {"bucket": rollback_bucket, "prefix": "config-a/"},
            {"bucket": rollback_bucket, "prefix": "config-b/"},
        ],
        "orbit_example_migration": [{}, {}],
        "orbit_example_object_operations": [{"bucket": b} for b in scratch],
        "orbit_example_sync_and_watch": [{}, {}],  # one run at a time (max_active_runs)
    }
    triggered_examples = {dag_id for dag_id, on_assets in system.examples.items() if not on_assets}
    missing = triggered_examples - set(confs)
    assert not missing, f"new examples {missing}: give them their two runs' params here"
    triggered = []  # (dag_id, run_id, has logical date)
    for dag_id in sorted(triggered_examples):  # queued while paused: the DB is still quiet
        without, with_date = confs[dag_id]
        triggered.append((dag_id, api.trigger(dag_id, conf=without), False))
        triggered.append((dag_id, api.trigger(dag_id, conf=with_date,
                                              logical_date=LOGICAL_DATE), True))  # fmt: skip
    for dag_id in system.examples:
        # the scheduled examples also get a run of their latest interval (a logical date too);
        # the scheduler's use_job_schedule, which would stop that, stops asset triggers too
        api.unpause(dag_id)

    runs = {}
    for dag_id, run_id, dated in triggered:
        run = system.assert_success(dag_id, run_id)
        assert (run["logical_date"] is not None) == dated, run
        runs[(dag_id, dated)] = run

    # each run keyed its data by its logical date, or by the day it was triggered
    day = {dated: pendulum.parse(runs[("orbit_example_lake_ingestion", dated)]["logical_date"]
                                 or runs[("orbit_example_lake_ingestion", dated)]["run_after"])
           .strftime("%Y-%m-%d") for dated in (False, True)}  # fmt: skip
    assert day[True] == "2026-01-15"
    for d in day.values():
        assert seaweed.get_metadata(f"raw/dt={d}/_manifest.json").size > 0
    archive = client_for(system.moto, system.archive_bucket)
    backup_day = pendulum.parse(runs[("orbit_example_backup_archive", False)]["run_after"])
    assert archive.get_metadata(f"backups/db/{backup_day:%Y-%m-%d}/dump.sql").size > 0
    for dated in (False, True):
        run_id = runs[("orbit_example_batch_archive", dated)]["dag_run_id"]
        report = api.xcom("orbit_example_batch_archive", run_id, "report")
        assert report["keys"] == 8 and report["shards"] == 2 and report["accounted"], report
        run_id = runs[("orbit_example_version_rollback", dated)]["dag_run_id"]
        assert api.xcom("orbit_example_version_rollback", run_id, "verify")["identical"] is True
    assert list(seaweed.iter_objects("raw-a/")) == list(seaweed.iter_objects("raw-b/")) == []

    # every lake ingestion's published manifest queued the asset-scheduled reader; every run of
    # every example (the scheduled ones unpausing made, the reader's) finishes successfully
    def reader_runs():
        listed = api.dag_runs("orbit_example_lake_reader")
        return [r for r in listed if r["run_type"] == "asset_triggered"]

    wait_for("an asset-triggered run of the lake reader", reader_runs, 120)
    for dag_id in system.examples:
        for run in api.dag_runs(dag_id):
            system.assert_success(dag_id, run["dag_run_id"])
    reader = "orbit_example_lake_reader"
    checks = [api.xcom(reader, r["dag_run_id"], "check") for r in reader_runs()]
    assert all(c["partitions"] >= 1 and c["files_checked"] >= 3 for c in checks), checks


def test_a_deferrable_sensor_waits_in_the_triggerer_and_resumes(system):
    api, dag_id = system.api, "orbit_system_deferred_sensor"
    key = "system/deferred/ready.txt"
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, conf={"key": key})

    def state():
        return api.task_instance(dag_id, run_id, "wait_for_key")["state"]

    wait_for("the sensor to defer", lambda: state() in ("deferred", "failed"), 120)
    assert state() == "deferred"  # the task gave its worker slot back; the triggerer waits

    # Airflow 3.3.2 races when a trigger fires before the scheduler has processed the exit of
    # the process that deferred: it takes that exit for the resumed, queued try's and fails
    # it ("state changed externally"). The key is written once the scheduler has seen it.
    finished = f"TaskInstance Finished: dag_id={dag_id}, task_id=wait_for_key, run_id={run_id},"
    wait_for("the scheduler to see the deferral", lambda: finished in system.scheduler_log(), 120)
    client_for(system.seaweed, system.bucket).upload_bytes(b"ready", key)
    system.assert_success(dag_id, run_id, timeout=120)
    summary = api.xcom(dag_id, run_id, "wait_for_key")
    assert summary["count"] == 1, summary
    # one try: it deferred, the triggerer's OrbitObjectTrigger saw the key and fired, and the
    # task resumed in a worker (the trigger's own log lines are part of the try's log)
    assert api.task_instance(dag_id, run_id, "wait_for_key")["try_number"] == 1
    log = api.task_log(dag_id, run_id, "wait_for_key", 1)
    for line in ("Pausing task as DEFERRED", "Trigger fired event", "Condition met"):
        assert line in log, log[-3000:]


def test_a_task_killed_mid_upload_is_retried_and_resumes(system, tmp_path):
    api, dag_id = system.api, "orbit_system_killed_upload"
    client = client_for(system.seaweed, system.bucket)
    source = system.work_dir / "killed-upload.bin"
    source.write_bytes(os.urandom(24 * MIB))  # 5 parts of 5 MiB (the last 4 MiB)
    key = "system/killed/file.bin"
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, conf={"source": str(source), "key": key})

    def uploaded_parts():
        uploads = client.s3.list_multipart_uploads(Bucket=system.bucket, Prefix=key)
        for upload in uploads.get("Uploads", []):
            parts = client.s3.list_parts(Bucket=system.bucket, Key=key, UploadId=upload["UploadId"])
            if parts.get("Parts"):
                return len(parts["Parts"])
        return 0

    seen = wait_for("a first part of the throttled upload", uploaded_parts, 180, interval=0.2)
    ti = api.task_instance(dag_id, run_id, "upload")
    assert ti["state"] == "running" and ti["try_number"] == 1, ti
    system.deployment.kill(ti["pid"], signal.SIGKILL)  # the task process, mid-upload

    run = system.assert_success(dag_id, run_id, timeout=180)
    tries = {t["try_number"]: t["state"] for t in api.tries(dag_id, run_id, "upload")}
    assert tries == {1: "failed", 2: "success"}, (tries, run)
    summary = api.xcom(dag_id, run_id, "upload")
    (entry,) = summary["objects"]
    assert entry["parts"] == 5 and entry["parts_resumed"] >= seen, entry
    # only the parts S3 did not hold yet were sent again
    assert summary["bytes_transferred"] <= (5 - seen) * 5 * MIB, summary
    body = client.download_bytes(key)
    assert hashlib.sha256(body).digest() == hashlib.sha256(source.read_bytes()).digest()
