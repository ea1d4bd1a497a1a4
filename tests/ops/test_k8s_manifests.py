"""The Kubernetes manifests are valid for Kubernetes 1.30 and wired to each other and to the app.

Validation is offline, against the strict JSON schemas vendored under
ops/k8s/schemas/ (unknown fields are errors, as ``kubectl apply --validate=strict``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from api.settings import Settings
from tests.ops.conftest import OPS, ROOT

K8S = OPS / "k8s"
SCHEMAS = K8S / "schemas"
KUSTOMIZATION = K8S / "kustomization.yaml"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)
EXAMPLES = sorted((OPS / "examples").glob("*.yaml"))  # never applied with the directory: the Secret's shape


def documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS + EXAMPLES for doc in yaml.safe_load_all(path.read_text()) if doc]


def rules_configmap() -> dict[str, Any]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("rules_sync", OPS / "rules_sync.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(json.loads(module.render_configmap(ROOT / "rules")))


def schema_errors(doc: dict[str, Any]) -> list[str]:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", doc["apiVersion"])
    schema_file = SCHEMAS / f"{doc['kind'].lower()}-{group_version}.json"
    assert schema_file.exists(), (
        f"no vendored schema for {doc['kind']} {doc['apiVersion']}: add it to ops/k8s/schemas/vendor.py"
    )
    definitions = Resource.from_contents(json.loads((SCHEMAS / "_definitions.json").read_text()))
    schema = json.loads(schema_file.read_text())
    registry = Resource.from_contents(schema) @ (definitions @ Registry())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def by_kind(kind: str) -> dict[str, Any]:
    [doc] = [d for d in documents() if d["kind"] == kind]
    return doc


@pytest.mark.parametrize("doc", [*documents(), rules_configmap()], ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    assert schema_errors(doc) == []


def test_the_validator_catches_a_misspelt_field() -> None:
    deployment = by_kind("Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] = "5s"
    errors = schema_errors(deployment)
    assert any("livenessProbes" in e for e in errors) and any("periodSeconds" in e for e in errors), errors


def test_the_api_is_probed_limited_and_gets_its_secrets_and_redis_cluster() -> None:
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    api = next(c for c in pod["containers"] if c["name"] == "api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"cpu", "memory"} <= api["resources"]["requests"].keys() and {"cpu", "memory"} <= api["resources"][
        "limits"
    ].keys()
    env = {e["name"]: e for e in api["env"]}
    for secret in ("YUTANG_API_KEYS", "YUTANG_SECRET", "REDIS_PASSWORD"):
        assert env[secret]["valueFrom"]["secretKeyRef"]["name"] == "yutang-secrets"
        assert secret in by_kind("Secret")["stringData"]
    assert env["REDIS_URL"]["value"].startswith("redis+cluster://:$(REDIS_PASSWORD)@$(REDIS_NODES)")
    assert list(env).index("REDIS_PASSWORD") < list(env).index("REDIS_URL"), "$(VAR) expands only earlier variables"
    settings = by_kind("ConfigMap")["data"]
    assert all(len(node.split(":")) == 2 for node in settings["REDIS_NODES"].split(","))
    mounts = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]["value"]]]
    assert env["YUTANG_RULES"]["value"].startswith(next(p for p, n in mounts.items() if n == "rules"))


def test_every_variable_the_manifests_set_is_one_the_app_reads() -> None:
    known = {"REDIS_URL", "YUTANG_REDIS_TIMEOUT_MS", "PROMETHEUS_MULTIPROC_DIR", "YUTANG_WORKERS", "YUTANG_LOG_LEVEL"}
    known |= {
        variable for variable in re.findall(r'"(YUTANG_[A-Z_]+|REDIS_URL)"', (ROOT / "api" / "settings.py").read_text())
    }
    composed = {"REDIS_PASSWORD", "REDIS_NODES"}  # only used to compose REDIS_URL
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    api = next(c for c in pod["containers"] if c["name"] == "api")
    names = {e["name"] for e in api["env"]} | set(by_kind("ConfigMap")["data"])
    assert names - composed <= known, f"variables the app never reads: {names - composed - known}"
    settings = Settings.from_env({k: v for k, v in by_kind("ConfigMap")["data"].items()})
    assert settings.redis_timeout_s == 0.25


def test_rules_reach_the_api_and_reload_through_the_sidecar() -> None:
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["rules-configmap"]["configMap"]["name"] == rules_configmap()["metadata"]["name"]
    [init] = pod["initContainers"]
    sidecar = next(c for c in pod["containers"] if c["name"] == "rules-sync")
    assert "--once" in init["command"] and "--reload-url" in sidecar["command"]
    reload_url = sidecar["command"][sidecar["command"].index("--reload-url") + 1]
    port = next(c for c in pod["containers"] if c["name"] == "api")["ports"][0]["containerPort"]
    assert reload_url == f"http://127.0.0.1:{port}/v1/rules/reload"
    assert {e["name"] for e in sidecar["env"]} == {"YUTANG_RELOAD_KEY"}


def test_the_rules_configmap_holds_the_whole_pack_within_the_size_limit() -> None:
    configmap = rules_configmap()
    expected = {"__".join(p.relative_to(ROOT / "rules").parts) for p in (ROOT / "rules").rglob("*.yaml")}
    assert set(configmap["data"]) == expected
    assert len(json.dumps(configmap).encode()) < 1024 * 1024, "a ConfigMap holds at most 1 MiB"
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", key) for key in configmap["data"])


def test_service_hpa_and_pdb_point_at_the_api_pods() -> None:
    deployment = by_kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert by_kind("Service")["spec"]["selector"].items() <= labels.items()
    assert by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    assert (
        by_kind("HorizontalPodAutoscaler")["spec"]["minReplicas"]
        > by_kind("PodDisruptionBudget")["spec"]["maxUnavailable"]
    )
    assert by_kind("Service")["spec"]["ports"][0]["targetPort"] == "http"


def test_image_and_manifests_agree() -> None:
    dockerfile = (OPS / "Dockerfile").read_text()
    assert "EXPOSE 8000" in dockerfile and re.search(r"^USER 10001", dockerfile, re.M)
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    for path in re.findall(r"/app/ops/[\w.]+", json.dumps(pod)):
        assert "COPY ops/entrypoint.sh ops/rules_sync.py /app/ops/" in dockerfile and Path(path).name in dockerfile


def test_applying_the_directory_creates_no_secret_and_the_kustomization_lists_every_manifest() -> None:
    kinds = {doc["kind"] for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert "Secret" not in kinds, "kubectl apply -f ops/k8s/ would create the example Secret"
    kustomization = yaml.safe_load(KUSTOMIZATION.read_text())
    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_the_network_policy_selects_the_api_pods_and_lets_out_only_dns_and_redis() -> None:
    policy = by_kind("NetworkPolicy")["spec"]
    pod = by_kind("Deployment")["spec"]["template"]
    assert policy["podSelector"]["matchLabels"] == pod["metadata"]["labels"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    [ingress] = policy["ingress"]
    api = next(c for c in pod["spec"]["containers"] if c["name"] == "api")
    assert [p["port"] for p in ingress["ports"]] == [port["name"] for port in api["ports"]]
    assert sorted((p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]) == [
        (53, "TCP"), (53, "UDP"), (6379, "TCP"),
    ]  # fmt: skip
    settings = by_kind("ConfigMap")["data"]
    assert all(node.rsplit(":", 1)[1] == "6379" for node in settings["REDIS_NODES"].split(","))


def test_the_memory_request_and_the_readme_use_the_soak_s_per_worker_figure() -> None:
    per_worker = re.findall(r"~(\d+) MiB RSS per worker", (K8S / "deployment.yaml").read_text())
    readme = re.findall(r"about (\d+) MiB RSS per worker", (OPS / "README.md").read_text())
    assert per_worker and per_worker == readme, "ops/README.md and deployment.yaml disagree on worker memory"
    settings = by_kind("ConfigMap")["data"]
    api = next(c for c in by_kind("Deployment")["spec"]["template"]["spec"]["containers"] if c["name"] == "api")
    request = api["resources"]["requests"]["memory"]
    assert request.endswith("Mi") and int(request[:-2]) >= 2 * int(settings["YUTANG_WORKERS"]) * int(per_worker[0])
