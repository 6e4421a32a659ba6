"""deploy/k8s as the tests read it: rendered overlays, and a pod's environment and files
resolved the way the kubelet resolves them (env, envFrom, ConfigMap and Secret keys, $(VAR)).

The tools (kubectl with Kustomize, kubernetes-validate, checkov) live in their own venv,
installed by ``make deploy-tools``; LEITAI_DEPLOY_TOOLS names its bin folder."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import yaml

from composition.cli import read_config
from leitai.eventstore.notes import Signer

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
VERIFIER_NAME = "leitai.example.gov.cn"
KUBERNETES_VERSION = "1.34.0"  # the oldest Kubernetes the manifests promise to run on (docs/deploy.md)
CONFIG_MOUNT = "/etc/leitai"
# the store's users, one per process that uses it: each workload reads its URL from leitai-store-<user>
STORE_USERS = ("registration", "scoring", "ranking", "notify", "migrate", "audit", "privacy")
# what production's cluster holds that the prod overlay does not render (docs/deploy.md: Secrets
# from the secret manager, ConfigMaps made at install), as test values
PROD_SECRETS = {
    "leitai-broker": {
        "amqp-uri": "amqps://leitai-app:secret@leitai-rabbitmq:5671/",
        "management-url": "https://leitai-keda:secret@leitai-rabbitmq:15671/",
    },
    "leitai-broker-user": {"username": "leitai-app", "password": "secret"},
    "leitai-broker-keda-user": {"username": "leitai-keda", "password": "secret"},
    **{
        f"leitai-store-{user}": {
            "mongo-url": f"mongodb://leitai-{user}:secret@leitai-mongodb-0.leitai-mongodb-svc.leitai.svc.cluster.local"
            ":27017/?replicaSet=leitai-mongodb&tls=true&tlsCAFile=/etc/leitai-ca/ca.crt"
        }
        for user in STORE_USERS
    },
    "leitai-gateway": {
        "tokens": '{"a-production-organiser-token": {"role": "organiser", "id": "org1", "deployment": true}}',
        "consistency-key": "a-production-consistency-key-0123456789abcdef",
    },
    "leitai-notify": {"smtp-user": "leitai", "smtp-password": "secret", "sms-api-key": "secret"},
    "leitai-verifier-keys": {"keys": Signer(VERIFIER_NAME, bytes(32)).verifier.encoded()},
}


def tool(name: str) -> str:
    folder = os.environ.get("LEITAI_DEPLOY_TOOLS")
    if not folder:
        pytest.fail("set LEITAI_DEPLOY_TOOLS to the bin folder of the deploy tools' venv (make test does)")
    path = Path(folder) / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run make deploy-tools")
    return str(path)


# how the runbook (docs/deploy.md) renders an overlay: kubectl's own Kustomize with its default
# load restrictor, which `kubectl apply -k`, Argo CD and Flux also use (no file read from
# outside a kustomization's folder)
RENDER = ("kubectl", "kustomize")


def strictly_valid(rendered: Path) -> subprocess.CompletedProcess:
    """kubernetes-validate --strict on a rendered file, against the oldest Kubernetes promised."""
    return subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet", str(rendered)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def render(overlay: str, k8s: Path = K8S) -> list[dict]:
    """An overlay rendered as the runbook renders it, as objects; ``k8s``: another copy of deploy/k8s."""
    done = subprocess.run(
        [tool(RENDER[0]), *RENDER[1:], str(k8s / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, name: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def pod_spec(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


@dataclass
class Pod:
    """One container of a rendered workload, with what the kubelet would give it."""

    name: str
    command: list[str]
    env: dict[str, str]
    files: dict[str, dict[str, str]]  # mount path -> file name -> content
    container: dict


def data_of(obj: dict) -> dict[str, str]:
    if obj["kind"] == "Secret":
        decoded = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
        return {**decoded, **(obj.get("stringData") or {})}
    return dict(obj.get("data") or {})


def _source(objects: list[dict], given: dict[str, dict[str, str]], kind: str, name: str) -> dict[str, str]:
    """A ConfigMap's or Secret's data: the rendered object's, or for one the overlay expects the
    cluster to hold (made at install: docs/deploy.md), the test's values (``given``, by name)."""
    # a generated object's name carries Kustomize's hash: leitai-store-5tdmbtb2d4
    found = [v for k, v in given.items() if name == k or re.fullmatch(rf"{re.escape(k)}-[a-z0-9]{{10}}", name)]
    if found:
        return found[0]
    rendered = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    if not rendered:
        raise KeyError(f"{kind} {name} is neither in the overlay nor given by the test")
    return data_of(rendered[0])


def resolve(workload: dict, objects: list[dict], secrets: dict[str, dict[str, str]] | None = None) -> Pod:
    """The container named ``leitai`` of ``workload`` with its environment and mounted files;
    ``secrets``: what the cluster holds that the overlay does not render (PROD_SECRETS)."""
    secrets = secrets or {}
    spec = pod_spec(workload)
    [container] = [c for c in spec["containers"] if c["name"] == "leitai"]
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(_source(objects, secrets, "ConfigMap", source["configMapRef"]["name"]))
        else:
            env.update(_source(objects, secrets, "Secret", source["secretRef"]["name"]))
    for variable in container.get("env") or []:
        if "value" in variable:  # $(VAR) names a variable defined before it
            env[variable["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), variable["value"]
            )
            continue
        ref = variable["valueFrom"]
        kind, key_ref = (
            ("Secret", ref["secretKeyRef"]) if "secretKeyRef" in ref else ("ConfigMap", ref["configMapKeyRef"])
        )
        env[variable["name"]] = _source(objects, secrets, kind, key_ref["name"])[key_ref["key"]]
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    files = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            files[mount["mountPath"]] = _source(objects, secrets, "ConfigMap", volume["configMap"]["name"])
    return Pod(
        workload["metadata"]["name"],
        list(container.get("command") or []) + list(container.get("args") or []),
        env,
        files,
        container,
    )


def loaded_config(pod, path: str) -> dict:
    """The mounted config file, read as the process reads it: ${VAR} from the pod's environment."""
    mount, _, filename = path.rpartition("/")
    text = pod.files[mount][filename]
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"leitai-manifest-{os.getpid()}-{filename}"
    scratch.write_text(text)
    try:
        with mock.patch.dict(os.environ, pod.env, clear=True):
            return read_config(str(scratch))
    finally:
        scratch.unlink()
