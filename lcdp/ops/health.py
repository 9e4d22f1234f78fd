"""Each service's health, asked the way its own project recommends.

- Airflow: ``GET /api/v2/monitor/health`` answers 200 whatever the state, so its JSON is read:
  ``metadatabase``, ``scheduler``, ``dag_processor`` and ``triggerer`` each carry a ``status``.
- MLflow: ``GET /health`` answers ``OK``.
- Sail: the standard gRPC health service (``grpc.health.v1.Health/Check``) answers ``SERVING``.
- Our service: ``GET /healthz``.
"""

from __future__ import annotations

import httpx

#: Seconds one probe waits (the Airflow chart's probes wait 5 by default).
TIMEOUT_S = 5.0


def http_ok(url: str) -> tuple[bool, str]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return False, f"no answer ({type(exc).__name__})"
    return response.status_code == 200, f"HTTP {response.status_code}"


def airflow_component(base_url: str, component: str) -> tuple[bool, str]:
    """One component's status in Airflow's health JSON (``metadatabase``, ``scheduler``,
    ``dag_processor``, ``triggerer``)."""
    try:
        response = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=TIMEOUT_S)
        status = (response.json().get(component) or {}).get("status")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return False, f"no answer ({type(exc).__name__})"
    return status == "healthy", f"{component}: {status}"


def grpc_serving(host: str, port: int) -> tuple[bool, str]:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(f"{host}:{port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_S)
    except grpc.RpcError as exc:
        return False, f"gRPC {exc.code().name}"  # type: ignore[attr-defined]
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    return status == "SERVING", f"gRPC {status}"
