"""The production manifests (infra/k8s, infra/helm): lint-clean YAML, and every Kubernetes
resource valid against the API schemas bundled with kubernetes-validate, in the base and
with the production overlay's patches applied."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "infra" / "k8s"
KUBERNETES_VERSION = "1.33"


def _base_resources() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / "base" / name).read_text()) if d]
    return docs


def _replace(doc: dict, pointer: str, value) -> None:
    """A JSON Patch ``replace``: the path must exist (a patch aimed at nothing is a bug)."""
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) else last
    assert (key < len(node)) if isinstance(node, list) else (key in node), f"{pointer} is not in the resource"
    node[key] = value


def test_yaml_is_lint_clean():
    proc = subprocess.run([sys.executable, "-m", "yamllint", "--strict", "-c", str(ROOT / ".yamllint"),
                           str(ROOT / "infra")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_base_resource_is_valid_kubernetes():
    docs = _base_resources()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("Deployment", "sail-spark-connect"), ("Role", "sail-driver"), ("RoleBinding", "sail-driver"),
            ("Deployment", "mlflow"), ("Deployment", "lcdp-service"), ("Service", "sail-spark-connect")} <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_a_broken_manifest_is_refused():
    """The check can fail: a probe with a typo is not a Deployment."""
    deployment = copy.deepcopy(next(d for d in _base_resources() if d["metadata"]["name"] == "sail-spark-connect"
                                    and d["kind"] == "Deployment"))
    kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grcp"] = {"port": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_production_overlay_patches_real_fields_and_stays_valid():
    overlay = yaml.safe_load((K8S / "overlays" / "production" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../../base"]
    docs = _base_resources()
    for patch in overlay["patches"]:
        target = patch["target"]
        doc = next(d for d in docs if d["kind"] == target["kind"] and d["metadata"]["name"] == target["name"])
        for op in yaml.safe_load(patch["patch"]):
            assert op["op"] == "replace"
            _replace(doc, op["path"], op["value"])
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_no_secret_value_is_in_the_repository():
    """Secrets come from Kubernetes Secrets by reference, never as values."""
    docs = _base_resources()
    assert not [d for d in docs if d["kind"] == "Secret"]
    text = "\n".join(p.read_text() for p in (ROOT / "infra").rglob("*.yaml"))
    for secret in ("LCDP_PSEUDONYM_KEY", "LCDP_METADATA_URL", "AWS_SECRET_ACCESS_KEY"):
        for line in [ln for ln in text.splitlines() if secret in ln and not ln.strip().startswith("#")]:
            assert "name:" in line, f"{secret} is given a value: {line.strip()}"
    values = yaml.safe_load((ROOT / "infra" / "helm" / "airflow-values.yaml").read_text())
    assert values["executor"] in ("KubernetesExecutor", "CeleryExecutor")
    assert values["dags"]["gitSync"]["enabled"] and values["dagProcessor"]["enabled"]
    assert values["jwtSecretName"] and values["data"]["metadataSecretName"]
