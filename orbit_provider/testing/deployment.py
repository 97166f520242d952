"""A real Airflow deployment on loopback: api-server, scheduler, dag-processor and triggerer
(LocalExecutor, SQLite) in a throwaway AIRFLOW_HOME, driven through its REST API.

Shared by the system tests (tests/system/) and `make airflow` (`python -m
orbit_provider.testing.deployment`, which adds SeaweedFS, moto's server and the examples).
Airflow runs only in subprocesses: importing this module never imports airflow. Every process
starts in a session of its own, and `stop()` ends every process of those sessions (the task
processes too, which Airflow moves into process groups of their own).
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
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from orbit_provider.testing.ports import free_port

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Imported by the scheduler and dag-processor before they start: their task and parsing
# processes are forks, which then inherit these modules instead of importing them each time
# (seconds of CPU a task on a busy machine).
PRELOADED = ("boto3", "orbit_provider.operators", "orbit_provider.sensors", "orbit_provider.hooks")
HEALTHY = {"metadatabase", "scheduler", "triggerer", "dag_processor"}
FINISHED = {"success", "failed"}
#: SQLite connect arguments of every service (through `sql_alchemy_connect_args`). All four
#: write one DB file; the default 5 s lock wait fails requests on a busy machine ("database
#: is locked"). Longer is not better: the api-server can wait for the lock on its event loop
#: while one of its own async sessions holds it, and stalls for the whole wait (2 minutes
#: were seen). The failed request is retried (AirflowApi here, the task SDK's own client).
SQLITE_CONNECT_ARGS = {"timeout": 15}
_MODULE = "orbit_provider.testing.deployment"  # not __name__: that is __main__ under -m
_SIMPLE_AUTH = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"


class DeploymentError(RuntimeError):
    """The deployment did not start, or a wait ran out of time (the message says which)."""


class TransientApiError(DeploymentError):
    """An API request that failed in a way worth repeating (SQLite locked, no answer)."""


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call `check` until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise DeploymentError(
                f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})"
            )
        time.sleep(interval)


class AirflowApi:
    """A small JSON client of /api/v2 with a token from the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: str | None = None

    def _token_header(self) -> dict[str, str]:
        if self._token is None:
            answer = self._send("POST", "/auth/token", self._login, auth=False)
            self._token = answer["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    @retry(
        retry=retry_if_exception_type(TransientApiError),
        stop=stop_after_delay(180),
        wait=wait_exponential(multiplier=0.5, max=5),
        reraise=True,
    )
    def _send(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        """One request; retried when SQLite was locked (HTTP 500 "Database error": the
        transaction was rolled back) or, for a GET, when the server did not answer in time."""
        headers = {"Accept": "application/json"}
        if auth:
            headers.update(self._token_header())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            # longer than the services' SQLite lock wait: a locked DB answers 500 first
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            locked = exc.code == 500 and "Database error" in detail
            error = TransientApiError if locked else DeploymentError
            raise error(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            if method == "GET":
                raise TransientApiError(f"{method} {path}: {exc}") from None
            raise DeploymentError(f"{method} {path}: {exc}") from None
        return json.loads(text) if text else None

    def get(self, path: str, **query: Any) -> Any:
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        return self._send("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self._send("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._send("PATCH", path, body)

    # -- what users do with a deployment --------------------------------------------------

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.get("/api/v2/dags", limit=1000)["dags"]}

    def import_errors(self) -> list[dict]:
        return self.get("/api/v2/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(
        self, dag_id: str, *, logical_date: str | None = None, conf: Mapping | None = None
    ) -> str:
        """Trigger a run (with no logical date unless given, as the UI and CLI do): its run id."""
        body = {"logical_date": logical_date, "conf": dict(conf or {})}
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        run = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances"
        return self.get(path, limit=1000)["task_instances"]

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict:
        run = urllib.parse.quote(run_id, safe="")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}")

    def tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        run = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/tries"
        return self.get(path)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        run = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(path, deserialize="true")["value"]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1
    ) -> str:
        run = urllib.parse.quote(run_id, safe="")
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task_id}/logs/{try_number}"
        content = self.get(path, full_content="true", map_index=map_index)["content"]
        if not isinstance(content, list):
            return str(content)
        return "\n".join(_log_line(c) if isinstance(c, dict) else str(c) for c in content)

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240) -> dict:
        """Wait until the run has finished (success or failed) and return it."""
        return wait_for(
            f"{dag_id} {run_id} to finish",
            lambda: (run := self.dag_run(dag_id, run_id))["state"] in FINISHED and run,
            timeout,
            interval=1.0,
        )


def _log_line(entry: dict) -> str:
    """A structured task-log entry as text: its message and any exception's type and value."""
    line = str(entry.get("event", ""))
    for error in entry.get("error_detail") or ():
        line += f"\n  {error.get('exc_type')}: {error.get('exc_value')}"
    return line


@dataclass
class AirflowDeployment:
    """The four Airflow services of one deployment, on a free loopback port.

    `dags`: DAG files or folders, linked into the deployment's dags folder. `env`: extra
    environment for every service (connections as AIRFLOW_CONN_*, settings the DAGs read;
    None removes a variable).
    The login is `username` with a generated `password` (simple auth manager, admin role).
    """

    dags: Iterable[Path] = ()
    # connections and the password stay out of the repr (pytest prints reprs on failures)
    env: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    home: Path | None = None
    port: int = 0
    username: str = "admin"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12), repr=False)
    startup_timeout: float = 180.0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)
    _own_home: bool = field(default=False, repr=False)
    _secrets: dict[str, str] = field(default_factory=dict, repr=False)
    _api: AirflowApi | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> AirflowApi:
        """The REST API client, logged in as `username` (once the deployment has started)."""
        if not self.port:
            raise DeploymentError("the deployment has not started: no port yet")
        if self._api is None:
            self._api = AirflowApi(self.url, self.username, self.password)
        return self._api

    def environment(self) -> dict[str, str]:
        """The services' environment: ours, not the caller's Airflow settings."""
        assert self.home is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "_ORBIT"))}
        home = self.home
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__AUTH_MANAGER=_SIMPLE_AUTH,
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{self.username}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=f"{_MODULE}.SQLITE_CONNECT_ARGS",
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC=f"{_MODULE}.SQLITE_CONNECT_ARGS",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__WORKERS="1",
            # tasks reach the execution API of this api-server (not the default :8080)
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            # one signing secret for the api-server and the scheduler's task tokens
            AIRFLOW__API_AUTH__JWT_SECRET=self._secret("jwt"),
            AIRFLOW__API__SECRET_KEY=self._secret("api"),
            AIRFLOW__CORE__FERNET_KEY="",
            AIRFLOW__CORE__PARALLELISM="8",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="30",
            AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
            PYTHONUNBUFFERED="1",
        )
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def _secret(self, name: str) -> str:
        """A random secret of this deployment, the same for every service."""
        return self._secrets.setdefault(name, secrets.token_urlsafe(64))

    def _airflow(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def _service(self, name: str) -> list[str]:
        """The command of one service: the airflow CLI, after PRELOADED for forking ones."""
        if name not in ("scheduler", "dag-processor"):
            return self._airflow(name)
        code = f"from {_MODULE} import run_preloaded; run_preloaded()"
        return [sys.executable, "-c", code, name]

    def start(self) -> AirflowDeployment:
        """Migrate a fresh DB, start the services, wait until all four report healthy."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="orbit-airflow-deployment-"))
            self._own_home = True
        self.port = self.port or free_port()
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        for source in self.dags:
            source = Path(source).resolve()
            files = sorted(source.glob("*.py")) if source.is_dir() else [source]
            for path in files:
                link = dags / path.name
                if not link.exists():
                    link.symlink_to(path)
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({self.username: self.password}))
        passwords.chmod(0o600)
        env = self.environment()
        try:
            migrate = subprocess.run(
                self._airflow("db", "migrate"), env=env, capture_output=True, timeout=300
            )
            if migrate.returncode:
                tail = migrate.stderr.decode(errors="replace")[-3000:]
                raise DeploymentError(f"airflow db migrate failed: {tail}")
            for name in COMPONENTS:
                log = open(self.home / "logs" / f"{name}.log", "wb")  # noqa: SIM115
                try:
                    self.processes[name] = subprocess.Popen(
                        self._service(name),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        cwd=self.home,
                        start_new_session=True,
                    )
                finally:
                    log.close()
            wait_for("every Airflow service to be healthy", self._healthy, self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise DeploymentError(
                    f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}"
                )
        try:
            with urllib.request.urlopen(self.url + "/api/v2/monitor/health", timeout=5) as resp:
                health = json.loads(resp.read())
        except (OSError, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy" for part in HEALTHY)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        """The end of one service's log (for error messages)."""
        assert self.home is not None
        path = self.home / "logs" / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def wait_dags(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed every DAG of `dag_ids` (fails fast on an
        import error)."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            errors = self.api.import_errors()
            if errors:
                raise DeploymentError(f"DAG import errors: {errors}")
            return wanted <= self.api.dag_ids()

        wait_for(f"DAGs {sorted(wanted)} to be parsed", parsed, timeout, interval=1.0)

    def kill(self, pid: int, sig: int = signal.SIGKILL) -> None:
        """Signal one process of this deployment (a task's, say); refuses any other pid."""
        if pid not in _session_members({proc.pid for proc in self.processes.values()}):
            raise DeploymentError(f"pid {pid} is not a process of this deployment")
        os.kill(pid, sig)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every process of the deployment's sessions, SIGKILL what is left."""
        sessions = {proc.pid for proc in self.processes.values()}
        for proc in self.processes.values():
            if proc.poll() is None:
                _signal_session(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        while _session_members(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in _session_members(sessions):
            _kill(pid, signal.SIGKILL)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.processes.clear()
        if self._own_home and self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> AirflowDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_preloaded() -> None:
    """`python -c` entry of a forking service: import PRELOADED, then run the airflow CLI
    with the arguments that follow."""
    import importlib
    import pkgutil

    for name in PRELOADED:
        module = importlib.import_module(name)
        for info in pkgutil.iter_modules(getattr(module, "__path__", []), name + "."):
            importlib.import_module(info.name)
    from airflow.__main__ import main

    sys.argv = ["airflow", *sys.argv[1:]]
    main()


def _session_members(sessions: set[int]) -> list[int]:
    """Live (non-zombie) pids whose session id is one of `sessions` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session in sessions and state != "Z":
            found.append(int(entry.name))
    return found


def _signal_session(leader: int, sig: int) -> None:
    for pid in _session_members({leader}):
        _kill(pid, sig)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# -- `make airflow`: the deployment for a person, with the examples and their servers -------

EXAMPLES = Path(__file__).resolve().parents[2] / "dags_examples"
EXAMPLES_BUCKET = "orbit-examples"


def example_environment(
    seaweed: Any,
    moto: Any,
    work_dir: Path,
    bucket: str = EXAMPLES_BUCKET,
    archive_bucket: str = EXAMPLES_BUCKET,
) -> dict[str, str | None]:
    """What the example DAGs need: their connections (SeaweedFS as `orbit_s3_default`, moto's
    server, which can restore archived objects, as `orbit_s3_archive`), buckets and folder."""
    from orbit_provider.testing.airflow_run import server_connection

    return dict(
        [
            server_connection(seaweed, "orbit_s3_default"),
            server_connection(moto, "orbit_s3_archive"),
        ],
        ORBIT_EXAMPLES_BUCKET=bucket,
        ORBIT_EXAMPLES_ARCHIVE_BUCKET=archive_bucket,
        ORBIT_EXAMPLES_DIR=str(work_dir),
        # the services never read the person's own AWS settings
        AWS_CONFIG_FILE=str(work_dir / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(work_dir / "aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PROFILE=None,
        AWS_DEFAULT_PROFILE=None,
    )


def main(argv: list[str] | None = None) -> int:
    """Start SeaweedFS, moto's server and Airflow with the examples; stop all on Ctrl-C."""
    import argparse

    from orbit_provider.testing.clients import client_for, create_bucket
    from orbit_provider.testing.moto_server import MotoServer
    from orbit_provider.testing.ports import port_is_free
    from orbit_provider.testing.seaweedfs import SeaweedServer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="UI port (default 8080 if free)")
    args = parser.parse_args(argv)
    port = args.port or (8080 if port_is_free(8080) else free_port())

    work_dir = Path(tempfile.mkdtemp(prefix="orbit-airflow-"))
    seaweed, moto, deployment = SeaweedServer(), MotoServer(), None
    try:
        print("starting SeaweedFS and moto's S3 server ...", flush=True)
        seaweed.start()
        moto.start()
        create_bucket(seaweed, EXAMPLES_BUCKET)
        create_bucket(moto, EXAMPLES_BUCKET)
        sample = client_for(seaweed, EXAMPLES_BUCKET)
        for i in range(20):  # something for orbit_example_batch_archive to archive
            sample.upload_bytes(f"id,value\n{i},{i * i}\n".encode(), f"raw/sample/part-{i:02d}.csv")
        env = example_environment(seaweed, moto, work_dir)
        # the examples start unpaused: the scheduled ones run at once, the others on a trigger
        env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "False"
        home = work_dir / "airflow"
        deployment = AirflowDeployment(dags=[EXAMPLES], env=env, home=home, port=port)
        print(f"starting Airflow in {deployment.home} (about 30 s) ...", flush=True)
        deployment.start()
        print(
            f"\nAirflow UI:  {deployment.url}\n"
            f"login:       {deployment.username} / {deployment.password}\n"
            f"S3 (SeaweedFS, orbit_s3_default): {seaweed.endpoint}  bucket {EXAMPLES_BUCKET}\n"
            f"S3 (moto, orbit_s3_archive):      {moto.endpoint}  bucket {EXAMPLES_BUCKET}\n"
            f"service logs: {deployment.home}/logs\n"
            "The example DAGs are unpaused; trigger any of them from the UI.\n"
            "Press Ctrl-C to stop everything.",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            for name, proc in deployment.processes.items():
                if proc.poll() is not None:
                    print(f"airflow {name} exited:\n{deployment.log_tail(name)}", flush=True)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        print("\nstopping ...", flush=True)
        if deployment is not None:
            deployment.stop()
        for server in (moto, seaweed):
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                print(f"stopping {server!r}: {exc}", flush=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
