"""The services ``lcdp up`` runs for one platform home, each a separate process:

- ``spark``: a Sail Spark Connect server (``sail spark server``); ``lcdp`` commands, the
  service and every DAG task started under ``lcdp up`` use it through ``LCDP_SPARK_REMOTE``.
  ``SAIL_MODE`` from the caller's environment picks its mode (``local``, ``local-cluster``).
- ``mlflow``: the tracking server on the same backend store and artifacts ``lcdp train`` uses.
- ``service``: ``lcdp serve`` (uploads, export API, Delta Sharing).
- ``airflow-api``, ``airflow-dag-processor``, ``airflow-scheduler``, ``airflow-triggerer``:
  Airflow 3 with the LocalExecutor on the home's generated ``airflow.cfg``. No DAG of ours
  defers today, but Airflow counts the triggerer among its components: without one its UI
  shows the deployment unhealthy, and a deferrable operator added later would wait forever.

The scheduler, the dag-processor and the triggerer start once the api-server is healthy: task processes talk
to Airflow through its execution API, and the scheduler runs the DAGs due at once (unpaused
DAGs with a schedule) as soon as it starts; tasks started before the API answered failed with
a read timeout and waited out their retry delay.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lcdp.ops import health
from lcdp.settings import Settings

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    url: str
    check: Callable[[], tuple[bool, str]]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None  # the port it listens on (checked free before it starts)
    setting: str = ""  # the LCDP_ setting that moves that port
    airflow: bool = False  # runs with the Airflow home's environment
    after: str | None = None  # a service that must be healthy before this one starts
    note: str = ""


def spark_remote(settings: Settings) -> str:
    return f"sc://127.0.0.1:{settings.spark_port}"


def services(settings: Settings) -> list[Service]:
    """The services of this home, in start order."""
    airflow_url = f"http://127.0.0.1:{settings.airflow_port}"
    mlflow_url = f"http://127.0.0.1:{settings.mlflow_port}"
    service_url = f"http://127.0.0.1:{settings.service_port}"
    memory = str(settings.engine_memory_bytes)
    sail_env = {"RUST_LOG": "warn,sail_common::actor=error", "SAIL_RUNTIME__MEMORY_POOL__TYPE": "fair",
                "SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE": memory,
                "SAIL_RUNTIME__MEMORY_POOL__GREEDY__MAX_SIZE": memory}
    settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
    return [
        Service("spark", [str(BIN / "sail"), "spark", "server", "--ip", "127.0.0.1", "--port", str(settings.spark_port)],
                spark_remote(settings), lambda: health.grpc_serving("127.0.0.1", settings.spark_port), env=sail_env,
                port=settings.spark_port, setting="LCDP_SPARK_PORT",
                note="Spark Connect (Sail); LCDP_SPARK_REMOTE for lcdp commands"),
        Service("mlflow", [str(BIN / "mlflow"), "server", "--backend-store-uri", settings.mlflow_uri,
                           "--artifacts-destination", settings.mlflow_artifact_root.as_uri(),
                           "--host", "127.0.0.1", "--port", str(settings.mlflow_port), "--workers", "1"],
                mlflow_url, lambda: health.http_ok(f"{mlflow_url}/health"), note="MLflow UI and tracking",
                port=settings.mlflow_port, setting="LCDP_MLFLOW_PORT"),
        Service("service", [str(BIN / "lcdp"), "--home", str(settings.home_dir), "serve", "--host", "127.0.0.1",
                            "--port", str(settings.service_port)],
                service_url, lambda: health.http_ok(f"{service_url}/healthz"),
                note="uploads, export API (/docs), Delta Sharing", port=settings.service_port,
                setting="LCDP_SERVICE_PORT"),
        Service("airflow-api", [str(BIN / "airflow"), "api-server", "--port", str(settings.airflow_port)],
                airflow_url, lambda: health.airflow_component(airflow_url, "metadatabase"), airflow=True,
                note="Airflow UI and REST API", port=settings.airflow_port, setting="LCDP_AIRFLOW_PORT"),
        Service("airflow-dag-processor", [str(BIN / "airflow"), "dag-processor"], airflow_url,
                lambda: health.airflow_component(airflow_url, "dag_processor"), airflow=True, after="airflow-api"),
        Service("airflow-scheduler", [str(BIN / "airflow"), "scheduler"], airflow_url,
                lambda: health.airflow_component(airflow_url, "scheduler"), airflow=True, after="airflow-api"),
        Service("airflow-triggerer", [str(BIN / "airflow"), "triggerer"], airflow_url,
                lambda: health.airflow_component(airflow_url, "triggerer"), airflow=True, after="airflow-api"),
    ]
