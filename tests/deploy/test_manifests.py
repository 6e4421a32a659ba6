"""deploy/k8s, checked offline: every overlay renders; every built-in object passes the pinned
Kubernetes version's strict schema and every custom resource its schema; checkov finds
nothing (a skip stands only inline, with its reason); and the manifests agree with the
processes they run: the commands ``leitai up`` starts, the settings each process needs,
the ports and paths its ops port serves, and the metrics the alerts and dashboard read."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import jsonschema_rs
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from composition import up
from composition.cli import build_parser
from leitai import metrics
from leitai.config import ConfigurationError, load_settings, refuse_weak_broker
from services.gateway.settings import GatewaySettingsSchema as GatewaySettings
from services.gateway.settings import load as load_gateway_settings
from services.notify.settings import load as notify_settings
from tests.support.manifests import (
    CONFIG_MOUNT,
    K8S,
    OVERLAYS,
    PROD_SECRETS,
    RENDER,
    ROOT,
    loaded_config,
    named,
    of_kind,
    pod_spec,
    render,
    resolve,
    strictly_valid,
    tool,
)

BUILT_IN_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1"}
SCHEMAS = K8S / "schemas"


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


def workloads(objects: list[dict]) -> list[dict]:
    return [
        o
        for o in objects
        if o["kind"] in ("Deployment", "Job", "CronJob")
        and o["metadata"]["labels"].get("app.kubernetes.io/name") == "leitai"
    ]


def secrets_for(name: str) -> dict:
    return PROD_SECRETS if name == "prod" else {}


# -- rendered as the runbook renders them ---------------------------------------------
def test_the_runbook_renders_every_overlay_as_the_tests_do_with_kubectls_default_load_restrictor():
    """A generator reading a file outside its kustomization's folder renders under a relaxed
    load restrictor and fails under kubectl's default, which `kubectl apply -k`, Argo CD and
    Flux use: the tests render only as the runbook does, and the runbook relaxes nothing."""
    runbook = (ROOT / "docs" / "deploy.md").read_text() + (ROOT / "Makefile").read_text()
    commands = re.findall(r"kubectl kustomize[^\n>|`]*", runbook)
    assert commands and all(c.split()[: len(RENDER)] == list(RENDER) for c in commands)
    assert not [c for c in commands if "--load-restrictor" in c], commands
    for kustomization in K8S.rglob("kustomization.yaml"):
        assert "LoadRestrictionsNone" not in kustomization.read_text(), kustomization


def leitai_images(objects: list[dict]) -> set[str]:
    return {
        c["image"]
        for w in workloads(objects)
        for c in pod_spec(w)["containers"] + pod_spec(w).get("initContainers", [])
    }


def test_dev_runs_the_image_make_image_builds():
    """An overlay's images: entry matches a container's image as the base leaves it: a base that
    renamed "leitai" first would leave dev's entry matching nothing."""
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    build = (ROOT / "deploy" / "image" / "build.sh").read_text()
    built = re.search(r"IMAGE=\$\{LEITAI_IMAGE:-([^}]+)\}", build).group(1).replace("$VERSION", version)
    assert leitai_images(render("dev")) == {built}


def test_a_release_pinned_by_digest_as_the_runbook_says_runs_that_digest_in_every_container(tmp_path):
    """docs/deploy.md: a release sets the digest of the "leitai" entry of the prod overlay's images:."""
    runbook = (ROOT / "docs" / "deploy.md").read_text()
    registry = re.search(r"set image leitai=([^@\s`]+)@sha256", runbook).group(1)
    copy = tmp_path / "repo"
    shutil.copytree(K8S, copy / "deploy" / "k8s")
    shutil.copytree(ROOT / "config", copy / "config")
    path = copy / "deploy" / "k8s" / "overlays" / "prod" / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text())
    [entry] = [i for i in kustomization["images"] if i["name"] == "leitai"]
    digest = "sha256:" + "5e" * 32
    entry.pop("newTag")
    entry.update(newName=registry, digest=digest)
    path.write_text(yaml.safe_dump(kustomization))
    assert leitai_images(render("prod", copy / "deploy" / "k8s")) == {f"{registry}@{digest}"}


# -- schemas and policy --------------------------------------------------------------
def test_every_built_in_object_passes_the_strict_schema_of_the_pinned_kubernetes(overlay, tmp_path):
    name, objects = overlay
    built_in = [o for o in objects if o["apiVersion"] in BUILT_IN_GROUPS]
    assert {o["kind"] for o in built_in} >= {
        "Deployment",
        "Service",
        "Ingress",
        "NetworkPolicy",
        "CronJob",
        "Job",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceAccount",
    }
    rendered = tmp_path / f"{name}.yaml"
    rendered.write_text(yaml.safe_dump_all(built_in))
    done = strictly_valid(rendered)
    assert done.returncode == 0, done.stdout + done.stderr


def schema_for(obj: dict):
    path = SCHEMAS / f"{obj['apiVersion'].replace('/', '_')}_{obj['kind']}.yaml"
    assert path.is_file(), f"no schema for {obj['apiVersion']} {obj['kind']} in {SCHEMAS}"
    text = path.read_text().replace(
        "{$ref: _objectmeta.yaml}", json.dumps(yaml.safe_load((SCHEMAS / "_objectmeta.yaml").read_text()))
    )
    return jsonschema_rs.validator_for(yaml.safe_load(text))


def test_every_custom_resource_passes_its_schema(overlay):
    _, objects = overlay
    custom = [o for o in objects if o["apiVersion"] not in BUILT_IN_GROUPS]
    for obj in custom:
        errors = [f"{e.instance_path}: {e.message}" for e in schema_for(obj).iter_errors(obj)]
        assert not errors, f"{obj['kind']}/{obj['metadata']['name']}: {errors}"


def test_a_misplaced_field_in_a_custom_resource_is_refused():
    cluster = named(render("prod"), "RabbitmqCluster", "leitai-rabbitmq")
    cluster["spec"]["replica"] = cluster["spec"].pop("replicas")  # a typo the API server would prune
    assert any("replica" in e.message for e in schema_for(cluster).iter_errors(cluster))


def test_checkov_finds_nothing_and_every_skip_gives_its_reason(overlay, tmp_path):
    name, objects = overlay
    folder = tmp_path / name
    folder.mkdir()
    (folder / "rendered.yaml").write_text(yaml.safe_dump_all(objects))
    done = subprocess.run(
        [tool("checkov"), "-d", str(folder), "--framework", "kubernetes", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(done.stdout)
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert not failed and report["summary"]["passed"] > 500, failed
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"].get("suppress_comment") or "") >= 30, (
            f"{check['check_id']} skipped without a reason"
        )


def test_the_namespace_enforces_the_restricted_pod_security_standard_and_pods_write_only_tmp(overlay):
    _, objects = overlay
    assert (
        named(objects, "Namespace", "leitai")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    for workload in workloads(objects):
        spec = pod_spec(workload)
        [container] = spec["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["automountServiceAccountToken"] is False
        assert named(objects, "ServiceAccount", spec["serviceAccountName"])["automountServiceAccountToken"] is False
        tmp = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}["/tmp"]
        assert "emptyDir" in {v["name"]: v for v in spec["volumes"]}[tmp]


def test_no_real_secret_is_in_deploy():
    assert not of_kind(render("prod"), "Secret"), "production secrets come from the cluster's secret manager"
    for secret in of_kind(render("dev"), "Secret"):
        for key, encoded in secret["data"].items():
            value = base64.b64decode(encoded).decode()
            assert value == "" or "dev-only" in value or "@" not in value, f"{secret['metadata']['name']}/{key}"


# -- the manifests agree with the processes ----------------------------------------------
def normalise(args: list[str]) -> list[str]:
    """A command as ``leitai up`` runs it from a checkout and as the image runs it."""
    program = {"nameko": "nameko", "composition.cli": "leitai"}
    if len(args) > 2 and args[1] == "-m":
        args = [program[args[2]], *args[3:]]
    return [Path(a).name if a.endswith(".yaml") else a for a in args]


def test_every_process_leitai_up_starts_has_a_deployment_running_the_same_command(overlay):
    _, objects = overlay
    deployments = {
        d["metadata"]["name"]: normalise(resolve(d, objects, secrets_for(overlay[0])).command)
        for d in of_kind(objects, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/name"] == "leitai"
    }
    planned = {f"leitai-{p.name}": normalise(p.args) for p in up.commands(Path("config"))}
    # `leitai up` runs one gateway serving every route; a cluster runs it twice, each serving
    # its edge's (LEITAI_GATEWAY_EDGE): the same command
    planned["leitai-public-gateway"] = planned["leitai-gateway"]
    assert deployments == planned


def needs(command: list[str]) -> tuple[str, ...]:
    """The settings the process checks at start-up (the CLI's own table for leitai commands)."""
    if command[0] == "leitai":
        # the command as the process gives it, less its config file (the table is per command)
        given = [a for n, a in enumerate(command[1:]) if a != "--config" and command[n] != "--config"]
        return build_parser().parse_args(given).needs
    return (
        ("AMQP_URI", "LEITAI_OPS_PORT")
        if "GatewayService" in command[-1]
        else ("AMQP_URI", "MONGO_URL", "MONGO_DATABASE", "LEITAI_RETRY", "LEITAI_OPS_PORT")
    )


def test_every_setting_a_process_requires_at_start_up_comes_from_its_manifest(overlay):
    name, objects = overlay
    for workload in workloads(objects):
        pod = resolve(workload, objects, secrets_for(name))
        config_path = next(a for a in pod.command if a.startswith(CONFIG_MOUNT))
        config = loaded_config(pod, config_path)
        settings = load_settings(config, only=needs(normalise(pod.command)))
        where = f"{name} {pod.name}"
        if "AMQP_URI" in needs(normalise(pod.command)):
            assert "127.0.0.1" not in settings.AMQP_URI, f"{where}: AMQP_URI left to the config's default"
            refuse_weak_broker(settings)  # what production refuses at start-up
        if "MONGO_URL" in needs(normalise(pod.command)):
            assert "127.0.0.1" not in settings.MONGO_URL, f"{where}: MONGO_URL left to the config's default"
        if "GatewayService" in pod.command[-1]:
            loaded = load_gateway_settings(config)  # the whole of its start-up check
            edge = {"leitai-gateway": "internal", "leitai-public-gateway": "public"}[pod.name]
            assert loaded["LEITAI_GATEWAY_EDGE"] == edge
            # the public one holds no token and no sealing key: none of its routes signs in or writes
            assert bool(loaded["LEITAI_TOKENS"]) == bool(loaded["LEITAI_CONSISTENCY_KEY"]) == (edge == "internal")
        if "NotifyService" in pod.command[-1]:
            smtp = notify_settings(config)[1]["smtp"]  # the whole of notify's start-up check
            assert smtp["host"] != "127.0.0.1", f"{where}: SMTP_HOST left to the config's default"


def test_each_process_uses_a_store_user_of_its_own_with_roles_on_its_databases_only():
    """Least privilege: the user named by a workload's MONGO_URL holds roles on exactly the
    databases its config makes it use, and no two processes share one (a relay shares its
    service's, whose store it is)."""
    objects = render("prod")
    users = {u["name"]: u for u in named(objects, "MongoDBCommunity", "leitai-mongodb")["spec"]["users"]}
    holders: dict[str, set[str]] = {}
    for workload in workloads(objects):
        pod = resolve(workload, objects, PROD_SECRETS)
        if "MONGO_URL" not in pod.env:
            continue
        config = loaded_config(pod, next(a for a in pod.command if a.startswith(CONFIG_MOUNT)))
        command = normalise(pod.command)
        used = {config["MONGO_DATABASE"]}
        if {"migrate", "audit"} & set(command):  # every event store
            used |= set(config["LEITAI_SOURCES"].values())
        if "audit" in command:  # and its scratch database
            used.add(f"{config['MONGO_DATABASE']}_replay")
        if "privacy" in command:  # and the vault of personal data
            used.add(config["LEITAI_PERSONAL_DATABASE"])
        user = urlparse(pod.env["MONGO_URL"]).username
        assert {r["db"] for r in users[user]["roles"]} == used, workload["metadata"]["name"]
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        holders.setdefault(user, set()).add(component.removesuffix("-relay"))
    assert all(len(h) == 1 for h in holders.values()) and len(holders) == 7, holders


def test_without_its_secret_a_process_stops_at_start_up_naming_the_setting():
    objects = render("prod")
    gateway = named(objects, "Deployment", "leitai-gateway")
    pod = resolve(gateway, objects, {**PROD_SECRETS, "leitai-gateway": {"tokens": "", "consistency-key": ""}})
    config = loaded_config(pod, f"{CONFIG_MOUNT}/gateway.yaml")
    with pytest.raises(Exception, match="LEITAI_TOKENS"):
        GatewaySettings().load({k: config[k] for k in ("LEITAI_TOKENS",) if k in config})
    grant = {"role": "organiser", "id": "o", "office": "boai"}
    with pytest.raises(ConfigurationError, match="LEITAI_CONSISTENCY_KEY"):  # production seals with a shared key
        load_gateway_settings(dict(config, LEITAI_TOKENS={"an-organiser-token-0123": grant}))
    with pytest.raises(KeyError, match="leitai-broker"):  # a Secret neither rendered nor in the cluster
        resolve(gateway, objects, {})


def test_every_probe_points_at_the_ops_port_and_the_paths_it_serves(overlay):
    name, objects = overlay
    for deployment in (w for w in workloads(objects) if w["kind"] == "Deployment"):
        pod = resolve(deployment, objects, secrets_for(name))
        container = pod.container
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["ops"] == int(pod.env["LEITAI_OPS_PORT"])
        # the kubelet probes the pod's IP: the port listens beyond the pod's loopback, said so
        # explicitly, which is what a production process accepts
        config = loaded_config(pod, next(a for a in pod.command if a.startswith(CONFIG_MOUNT)))
        ops = load_settings(dict(config, LEITAI_ENVIRONMENT="production"), only=("LEITAI_OPS_PORT",))
        assert (ops.LEITAI_OPS_PORT, ops.LEITAI_OPS_HOST, ops.LEITAI_OPS_PUBLIC) == (ports["ops"], "0.0.0.0", True)
        probes = {kind: container[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")}
        assert {kind: (p["port"], p["path"]) for kind, p in probes.items()} == {
            "startup": ("ops", "/healthz"),
            "liveness": ("ops", "/healthz"),
            "readiness": ("ops", "/readyz"),
        }
        assert pod_spec(deployment)["terminationGracePeriodSeconds"] > float(pod.env["LEITAI_RPC_TIMEOUT"])


def test_each_replicated_deployment_has_a_disruption_budget_and_notify_one_autoscaler(overlay):
    name, objects = overlay
    budgets = {
        tuple(sorted(b["spec"]["selector"]["matchLabels"].items())) for b in of_kind(objects, "PodDisruptionBudget")
    }
    scaled = [h["spec"]["scaleTargetRef"]["name"] for h in of_kind(objects, "HorizontalPodAutoscaler")]
    scaled += [s["spec"]["scaleTargetRef"]["name"] for s in of_kind(objects, "ScaledObject")]
    for deployment in of_kind(objects, "Deployment"):  # an autoscaled one runs two or more
        if deployment["spec"].get("replicas", 1) > 1 or deployment["metadata"]["name"] in scaled:
            assert tuple(sorted(deployment["spec"]["selector"]["matchLabels"].items())) in budgets, deployment[
                "metadata"
            ]["name"]
    assert len(scaled) == len(set(scaled)), "a Deployment with two autoscalers"
    assert {"leitai-gateway", "leitai-scoring"} <= set(scaled)
    assert ("leitai-notify" in scaled) == (name == "prod")  # KEDA, in the overlay that has it


def test_the_alerts_and_the_dashboard_read_only_metrics_leitai_exports():
    exported = {m._name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}
    rule = named(render("prod"), "PrometheusRule", "leitai")
    expressions = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads((K8S / "components" / "monitoring" / "leitai-dashboard.json").read_text())
    expressions += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for e in expressions
        for name in re.findall(r"leitai_[a-z_]+", e)
    }
    assert used and used <= exported, used - exported
    assert {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]} >= {
        "LeitaiDeadLetters",
        "LeitaiRelayLagging",
        "LeitaiAuditFailed",
        "LeitaiQueueWithoutConsumer",
    }


def test_only_workloads_carry_a_component_label_so_a_rollout_can_apply_everything_else_first(overlay):
    _, objects = overlay  # docs/deploy.md: apply -l '!app.kubernetes.io/component', then migrate, then all
    labelled = {
        (o["kind"], o["metadata"]["name"])
        for o in objects
        if "app.kubernetes.io/component" in (o["metadata"].get("labels") or {})
    }
    assert labelled == {(o["kind"], o["metadata"]["name"]) for o in workloads(objects)}
