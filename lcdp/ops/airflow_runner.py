"""Run the platform's DAGs with real Airflow, in an Airflow home inside the platform home.

``airflow dags test`` executes one DAG run in-process against Airflow's own metadata DB
(SQLite in ``<home>/airflow``), so the embedded demo needs no scheduler or workers. A fresh
home is migrated first, and DAGs are serialized before they run (``dags test`` refuses a DAG
that is not serialized).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lcdp.errors import AirflowError, PermanentTaskFailure
from lcdp.ops.airflow_home import airflow_env
from lcdp.settings import Settings


def _fail_reason(output: str) -> str | None:
    """The message of the last ``AirflowFailException`` in an Airflow command's output."""
    marker = "AirflowFailException: "
    for line in reversed(output.splitlines()):
        at = line.find(marker)
        if at >= 0:
            return line[at + len(marker):].strip() or None
    return None


def _airflow(settings: Settings, *args: str, log_file: Path | None = None) -> str:
    cmd = [str(Path(sys.executable).with_name("airflow")), *args]
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    # the home's level (INFO) is for the task logs of the services' runs; a command's own
    # chatter (and `dags test`'s in-process tasks) is not worth reading
    env = airflow_env(settings) | {"AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if log_file is not None:
        with open(log_file, "a") as fh:
            fh.write(f"$ airflow {' '.join(args)}\n{output}\n")
    if proc.returncode != 0:
        reason = _fail_reason(output)
        if reason:
            raise PermanentTaskFailure(f"airflow {' '.join(args[:3])} failed and will fail again on retry: {reason}")
        tail = "\n".join(output.strip().splitlines()[-25:])
        raise AirflowError(f"'airflow {' '.join(args)}' failed (exit {proc.returncode}):\n{tail}")
    return output


def migrate(settings: Settings, log_file: Path | None = None) -> None:
    """Create or upgrade Airflow's metadata DB (idempotent)."""
    _airflow(settings, "db", "migrate", log_file=log_file)


def prepare(settings: Settings, log_file: Path | None = None) -> None:
    """Migrate Airflow's metadata DB and serialize the platform's DAGs."""
    migrate(settings, log_file)
    _airflow(settings, "dags", "reserialize", log_file=log_file)


def _json_tail(output: str) -> list[dict]:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("["):
            return json.loads(line)
    return []


def run_dag(settings: Settings, dag_id: str, conf: dict, log_file: Path | None = None) -> dict:
    """Run one DAG run to the end and return it (``run_id``, ``state``, ...).

    ``airflow dags test`` can exit 0 when a task failed, so the run's state is read back from
    Airflow's metadata (it exits 1 when a task raised ``AirflowFailException``); a failed run raises AirflowError naming the failed tasks, or
    ``PermanentTaskFailure`` in one line when a task said a retry would not help.
    """
    out = _airflow(settings, "dags", "test", dag_id, "--conf", json.dumps(conf), log_file=log_file)
    runs = _json_tail(_airflow(settings, "dags", "list-runs", dag_id, "-o", "json"))
    if not runs:
        raise AirflowError(f"DAG {dag_id} left no run behind:\n{out[-3000:]}")
    run = max(runs, key=lambda r: r.get("start_date") or "")
    if run.get("state") != "success":
        states = _json_tail(_airflow(settings, "tasks", "states-for-dag-run", dag_id, run["run_id"], "-o", "json"))
        failed = [f"{t.get('task_id')}[{t.get('map_index')}]={t.get('state')}" for t in states
                  if t.get("state") not in ("success", "skipped")]
        reason = _fail_reason(out)
        if reason:
            raise PermanentTaskFailure(f"DAG {dag_id} failed and will fail again on retry: {reason}")
        tail = "\n".join(out.strip().splitlines()[-30:])
        raise AirflowError(f"DAG {dag_id} run {run['run_id']} ended {run.get('state')}: "
                           f"{', '.join(failed) or 'no task failed?'}\n{tail}")
    return run


def consume_asset_queue(settings: Settings) -> int:
    """Forget the Asset events queued for DAGs not yet started; returns how many.

    ``airflow dags test`` runs publish Asset events like any run, so after the demo has run
    every DAG itself, the queue still asks for fusion (and maintenance) again: a scheduler
    started later (``lcdp up``) would run them once more on data they already hold."""
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.airflow_db_url)
    try:
        with engine.begin() as db:
            return db.execute(text("DELETE FROM asset_dag_run_queue")).rowcount or 0
    finally:
        engine.dispose()


def set_paused(settings: Settings, paused: dict[str, bool], log_file: Path | None = None) -> None:
    """Pause or unpause DAGs (``dag_id → paused``); the DAGs must be serialized already."""
    for dag_id, pause in paused.items():
        _airflow(settings, "dags", "pause" if pause else "unpause", dag_id, "-y", log_file=log_file)


def task_states(settings: Settings, dag_id: str, run_id: str) -> dict[str, str]:
    """Task id → state for one DAG run."""
    states = _json_tail(_airflow(settings, "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"))
    return {t["task_id"]: t["state"] for t in states}
