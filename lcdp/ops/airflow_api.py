"""A small client of Airflow's REST API (v2), as a user of ``lcdp up`` would use it: sign in
with the UI's user (Airflow's simple auth manager writes the password into the Airflow home),
then read DAG runs and their task instances, or start a run."""

from __future__ import annotations

import json

import httpx

from lcdp.ops.airflow_home import UI_USER
from lcdp.settings import Settings


class AirflowApi:
    def __init__(self, settings: Settings) -> None:
        self.base = f"http://127.0.0.1:{settings.airflow_port}"
        self._password_file = settings.airflow_home / "simple_auth_manager_passwords.json.generated"
        self._client = httpx.Client(base_url=self.base, timeout=30)
        self._token: str | None = None

    def password(self) -> str:
        return json.loads(self._password_file.read_text())[UI_USER]

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            response = self._client.post("/auth/token", json={"username": UI_USER, "password": self.password()})
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def get(self, path: str, **params) -> dict:
        response = self._client.get(path, params=params, headers=self._headers())
        if response.status_code == 401:  # the token expired: sign in again
            self._token = None
            response = self._client.get(path, params=params, headers=self._headers())
        response.raise_for_status()
        return response.json()

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        """Start a run of the DAG now, as the UI's trigger button does; returns the run."""
        body = {"logical_date": None, "conf": conf or {}}
        response = self._client.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body, headers=self._headers())
        response.raise_for_status()
        return response.json()

    def runs(self, dag_id: str, limit: int = 100) -> list[dict]:
        """The DAG's runs, newest first."""
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", order_by="-run_after", limit=limit)["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        answer = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)
        return {t["task_id"]: t["state"] for t in answer["task_instances"]}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
