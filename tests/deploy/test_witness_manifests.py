"""deploy/k8s/witness, checked offline and started from itself: it renders as a user applies
it (Kustomize's default load restrictor); its objects pass the pinned Kubernetes' strict
schema and checkov; its pod meets the restricted Pod Security Standard; only leitai's relays
may reach it, and the relays may reach it; and its container's command, resolved as the
kubelet would ($(VAR) from its ConfigMap, the key and the state volume mapped to local
folders), refuses the placeholders naming the option and, given real values, cosigns."""

from __future__ import annotations

import http.client
import re
import subprocess

import pytest
import yaml

from composition.localservers import free_port
from leitai.eventstore.merkle import leaf_hash
from leitai.eventstore.notes import Checkpoint, Signer
from leitai.witness.cosignature import Cosigner
from leitai.witness.request import encode
from testkit.servers import ChildProcess, wait_until
from testkit.stack import BIN
from tests.support.cluster import restricted_violations
from tests.support.manifests import (
    K8S,
    named,
    of_kind,
    pod_spec,
    render,
    resolve,
    strictly_valid,
    tool,
)

pytestmark = pytest.mark.integration
WITNESS = K8S / "witness"
RELAYS = ("registration-relay", "scoring-relay", "ranking-relay")


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    done = subprocess.run([tool("kubectl"), "kustomize", str(WITNESS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_it_passes_the_strict_schema_and_checkov(objects, tmp_path):
    assert {o["kind"] for o in objects} == {
        "Namespace",
        "ServiceAccount",
        "PersistentVolumeClaim",
        "Service",
        "Deployment",
        "NetworkPolicy",
        "ConfigMap",
    }
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"leitai-witness"}
    rendered = tmp_path / "witness.yaml"
    rendered.write_text(yaml.safe_dump_all(objects))
    done = strictly_valid(rendered)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [tool("checkov"), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = yaml.safe_load(done.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert not failed, failed
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment") or "") >= 30, check["check_id"]


def test_its_pod_meets_the_restricted_pod_security_standard(objects):
    labels = named(objects, "Namespace", "leitai-witness")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    deployment = named(objects, "Deployment", "leitai-witness")
    assert restricted_violations(deployment["spec"]["template"]) == []  # the model tests/support/cluster.py cites
    spec = pod_spec(deployment)
    assert spec["automountServiceAccountToken"] is False
    [container] = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # its state on its own volume, its key read-only from its Secret
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    claim = volumes[mounts["/var/lib/leitai-witness"]["name"]]["persistentVolumeClaim"]["claimName"]
    assert named(objects, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert volumes[mounts["/etc/leitai-witness"]["name"]]["secret"]["secretName"] == "leitai-witness-key"
    assert mounts["/etc/leitai-witness"]["readOnly"] is True
    assert named(objects, "Deployment", "leitai-witness")["spec"]["strategy"]["type"] == "Recreate"  # one writer


def selects(selector: dict, labels: dict) -> bool:
    """A label selector as the API server reads it (matchLabels and the In operator)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_only_the_relays_reach_it_and_the_relays_may(objects):
    witness_pod = pod_spec(named(objects, "Deployment", "leitai-witness"))
    witness_labels = named(objects, "Deployment", "leitai-witness")["spec"]["template"]["metadata"]["labels"]
    port = witness_pod["containers"][0]["ports"][0]["containerPort"]
    policies = of_kind(objects, "NetworkPolicy")
    deny = named(objects, "NetworkPolicy", "default-deny-all")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    ingress = [
        r for p in policies if selects(p["spec"]["podSelector"], witness_labels) for r in p["spec"].get("ingress", [])
    ]
    [rule] = ingress
    assert (
        [p["port"] for p in rule["ports"]]
        == [port]
        == [named(objects, "Service", "leitai-witness")["spec"]["ports"][0]["port"]]
    )
    [source] = rule["from"]
    assert source["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "leitai"}}
    leitai = render("prod")
    for deployment in of_kind(leitai, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(source["podSelector"], labels) == (labels["app.kubernetes.io/component"] in RELAYS)
        # and leitai's side lets exactly the relays out to it
        allowed = [
            rule
            for p in of_kind(leitai, "NetworkPolicy")
            if "Egress" in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
            for to in rule.get("to", [])
            if to.get("namespaceSelector") == {"matchLabels": {"kubernetes.io/metadata.name": "leitai-witness"}}
            and selects(to["podSelector"], witness_labels)
            and port in [p["port"] for p in rule["ports"]]
        ]
        assert bool(allowed) == (labels["app.kubernetes.io/component"] in RELAYS)
    assert not any(p["spec"].get("egress") for p in policies)  # the witness itself reaches nothing


def command(objects: list[dict], tmp_path, port: int) -> list[str]:
    """The container's command as the kubelet runs it ($(VAR) expanded from its env), with its
    mounts and listen address mapped to this machine."""
    pod = resolve(named(objects, "Deployment", "leitai-witness"), objects)
    expanded = [re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: pod.env[m.group(1)], a) for a in pod.command]
    mapped = [
        a.replace("/etc/leitai-witness", str(tmp_path / "secret"))
        .replace("/var/lib/leitai-witness", str(tmp_path / "state"))
        .replace("0.0.0.0:8380", f"127.0.0.1:{port}")
        for a in expanded
    ]
    return [str(BIN / mapped[0]), *mapped[1:]]


def test_started_from_its_manifest_it_refuses_the_placeholders_and_cosigns_with_real_values(objects, tmp_path):
    (tmp_path / "secret").mkdir()
    (tmp_path / "state").mkdir()
    cosigner = Cosigner.generate("witness.jijian.test")
    cosigner.write(tmp_path / "secret" / "key")
    refused = subprocess.run(command(objects, tmp_path, free_port()), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--log #1 (leitai.example.gov.cn/registration)" in refused.stderr

    log_key = Signer.generate("leitai.boai.gov.cn")
    logs = named(objects, "ConfigMap", next(o["metadata"]["name"] for o in of_kind(objects, "ConfigMap")))
    logs["data"] = {k: f"{v.split()[0]} {log_key.verifier.encoded()}" for k, v in logs["data"].items()}
    port = free_port()
    witness = ChildProcess(command(objects, tmp_path, port), name="witness").start()
    try:
        wait_until(lambda: "ready" in witness.output() or not witness.alive(), what="the witness")
        assert witness.alive(), witness.output()
        body = Checkpoint("leitai.example.gov.cn/scoring", 1, leaf_hash(b"event")).body()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/add-checkpoint", body=encode(0, [], log_key.sign(body)))
        response = connection.getresponse()
        assert response.status == 200 and cosigner.verifier.verify(response.read().decode().strip(), body)
        connection.close()
        assert (tmp_path / "state" / "state.json").exists()
    finally:
        witness.stop()
