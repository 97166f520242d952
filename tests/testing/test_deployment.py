"""orbit_provider.testing.deployment without starting Airflow: the services' environment, the
waits, and the process bookkeeping `stop()` and `kill()` rely on. The deployment itself runs
in tests/system/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from orbit_provider.testing.deployment import (
    AirflowApi,
    AirflowDeployment,
    DeploymentError,
    _session_members,
    wait_for,
)


class FakeApi(BaseHTTPRequestHandler):
    """Answers /auth/token, then each path from its script of (status, body) answers."""

    script: dict[str, list[tuple[int, dict]]] = {}
    seen: list[tuple[str, str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append((self.command, self.path))
        if self.path == "/auth/token":
            status, body = 201, {"access_token": "t"}
        else:
            status, body = self.script[self.path].pop(0)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@pytest.fixture
def fake_api():
    FakeApi.script, FakeApi.seen = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield AirflowApi(f"http://127.0.0.1:{server.server_address[1]}", "admin", "pw"), FakeApi
    finally:
        server.shutdown()
        server.server_close()


LOCKED = (500, {"detail": {"reason": "Database error", "statement": "hidden"}})


def test_the_api_client_repeats_a_request_sqlite_was_locked_for(fake_api):
    api, server = fake_api
    path = "/api/v2/dags/d/dagRuns"
    server.script[path] = [LOCKED, LOCKED, (200, {"dag_run_id": "manual__1"})]
    assert api.trigger("d") == "manual__1"
    assert server.seen.count(("POST", path)) == 3
    assert server.seen[0] == ("POST", "/auth/token")  # logged in once


def test_the_api_client_does_not_repeat_other_errors(fake_api):
    api, server = fake_api
    server.script["/api/v2/dags/d/dagRuns"] = [(409, {"detail": "exists"}), (200, {})]
    with pytest.raises(DeploymentError, match="HTTP 409.*exists"):
        api.trigger("d", logical_date="2026-01-15T00:00:00Z")
    server.script["/api/v2/importErrors"] = [(500, {"detail": "boom"}), (200, {})]
    with pytest.raises(DeploymentError, match="HTTP 500.*boom"):
        api.import_errors()


def test_the_services_get_their_own_airflow_settings_not_the_callers(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("AIRFLOW_CONN_SOMETHING", "aws://")
    monkeypatch.setenv("AWS_PROFILE", "dev")
    deployment = AirflowDeployment(
        home=tmp_path, port=18080, env={"AWS_PROFILE": None, "ORBIT_EXAMPLES_BUCKET": "b"}
    )
    env = deployment.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW_CONN_SOMETHING" not in env
    assert "AWS_PROFILE" not in env and env["ORBIT_EXAMPLES_BUCKET"] == "b"
    assert env["AIRFLOW_HOME"] == str(tmp_path)
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    # the api-server and the scheduler sign and check task tokens with one secret
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == deployment.environment()[
        "AIRFLOW__API_AUTH__JWT_SECRET"
    ]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] != AirflowDeployment(
        home=tmp_path
    ).environment()["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    # pytest prints reprs on failures: no connection or password in them
    assert deployment.password not in repr(deployment) and "ORBIT_EXAMPLES" not in repr(deployment)


def test_wait_for_returns_the_first_truthy_value_or_times_out():
    answers = iter([None, 0, {"state": "success"}])
    assert wait_for("a value", lambda: next(answers), timeout=30, interval=0) == {
        "state": "success"
    }
    with pytest.raises(DeploymentError, match="waiting for nothing .*last: False"):
        wait_for("nothing", lambda: False, timeout=0, interval=0)


def test_session_members_include_children_in_other_process_groups(tmp_path):
    """stop() finds a service's descendants by session, even those Airflow moved into process
    groups of their own (task processes)."""
    ready = tmp_path / "child.pid"
    script = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " process_group=0)\n"
        f"open({str(ready)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    leader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        wait_for("the child's pid", lambda: ready.exists() and ready.read_text(), timeout=30)
        child = int(ready.read_text())
        assert os.getpgid(child) != leader.pid  # its own group, still the leader's session
        assert set(_session_members({leader.pid})) == {leader.pid, child}

        deployment = AirflowDeployment(home=tmp_path)
        deployment.processes["scheduler"] = leader
        with pytest.raises(DeploymentError, match="not a process of this deployment"):
            deployment.kill(os.getpid())
        deployment.kill(child, signal.SIGKILL)
        wait_for("the child to die", lambda: child not in _session_members({leader.pid}), 30)
        deployment.stop(timeout=5)
        assert _session_members({leader.pid}) == []
        assert leader.returncode is not None
        assert Path(tmp_path).exists()  # a home the caller gave is not removed
    finally:
        for pid in _session_members({leader.pid}):
            os.kill(pid, signal.SIGKILL)
        leader.wait(timeout=10)
