"""The rendered overlays read as a cluster would run them: what the kubelet mounts, what cluster
DNS resolves, what the network policies let through, what Pod Security admits and what the
operators make of leitai's custom resources (tests/support/cluster.py, each model from the
upstream source or documentation it cites). Each test stands for a way a rollout failed on
paper (docs/deploy.md, "What we verified and how")."""

from __future__ import annotations

import functools
import os
import re
import uuid
from unittest import mock
from urllib.parse import urlparse

import pytest
from pymongo import MongoClient, monitoring

from composition import cli
from composition.product import CATALOGUE
from leitai import mongo
from leitai.config import load_settings
from leitai.messaging.topology import RetryPolicy, consumer_queues, dead_letter_queue_name, retry_queue_name
from tests.support.cluster import (
    MONGODB_SERVICE_ACCOUNT,
    Endpoint,
    allowed,
    eviction_allowed,
    mounted_files,
    names_before_ready,
    pod_templates,
    refused_commands,
    restricted_violations,
    selects,
    term_selects,
    writable,
)
from tests.support.manifests import (
    CONFIG_MOUNT,
    OVERLAYS,
    PROD_SECRETS,
    ROOT,
    data_of,
    loaded_config,
    named,
    of_kind,
    pod_spec,
    render,
    resolve,
)

NAMESPACE = "leitai"
# who connects from outside leitai's namespace (docs/deploy.md, Prerequisites)
API_SERVER = Endpoint("the Kubernetes API server", None)
MAIL_RELAY = Endpoint("the mail relay", None)
KUBE_DNS = Endpoint("cluster DNS", "kube-system", {"k8s-app": "kube-dns"})
RABBITMQ_OPERATOR = Endpoint("the RabbitMQ Cluster Operator", "rabbitmq-system")
PROMETHEUS = Endpoint("Prometheus", "monitoring")
INGRESS = Endpoint("the internet-facing ingress controller", "ingress-nginx")
KEDA = Endpoint("KEDA's operator", "keda")
INTRANET_INGRESS = Endpoint("the intranet's ingress controller", "ingress-nginx-internal")


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, render(request.param)


# docker-library/rabbitmq 4.1/ubuntu (commit 9193c1de): what the image has in
# /etc/rabbitmq/conf.d, shown only when no volume is mounted over it
IMAGE_RABBITMQ_CONF_D = {
    "10-defaults.conf": "loopback_users.guest = false\nlog.console = true\n",
    "20-management_agent.disable_metrics_collector.conf": "management_agent.disable_metrics_collector = true\n",
}
# RabbitMQ writes its log to a file under /var/log/rabbitmq unless log.file = false
# (https://www.rabbitmq.com/docs/logging#log-file-location)
RABBITMQ_LOG_DIR = "/var/log/rabbitmq"


def rabbitmq_conf(files: dict[str, str]) -> dict[str, str]:
    """conf.d's files in name order (as RabbitMQ reads them), later keys winning: new-style
    `key = value` lines (https://www.rabbitmq.com/docs/configure#config-file-formats)."""
    settings: dict[str, str] = {}
    for name in sorted(files):
        for line in files[name].splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, _, value = line.partition("=")
                settings[key.strip()] = value.strip()
    return settings


def test_the_dev_broker_logs_to_the_console_and_writes_nothing_on_its_read_only_root():
    objects = render("dev")
    broker = named(objects, "StatefulSet", "leitai-rabbitmq")
    [container] = pod_spec(broker)["containers"]
    files = mounted_files(pod_spec(broker), container, "/etc/rabbitmq/conf.d", objects)
    settings = rabbitmq_conf(IMAGE_RABBITMQ_CONF_D if files is None else files)
    assert settings.get("log.console") == "true", "kubectl logs would show nothing"
    assert settings.get("log.file") == "false" or writable(broker, container, RABBITMQ_LOG_DIR), (
        f"RabbitMQ would log to a file under {RABBITMQ_LOG_DIR} on a read-only root and abort"
    )
    assert {settings.get("default_user"), settings.get("default_pass")} != {None}, "no user but guest, refused"
    assert writable(broker, container, "/var/lib/rabbitmq/mnesia"), "its data"


def test_the_dev_store_initiates_its_replica_set_under_a_name_that_resolves_before_it_is_ready():
    objects = render("dev")
    store = named(objects, "StatefulSet", "leitai-mongodb")
    [container] = pod_spec(store)["containers"]
    script = " ".join(container["startupProbe"]["exec"]["command"])
    hosts = set(re.findall(r'host: "([^":]+):\d+"', script))
    assert hosts, "the startup probe initiates the set"
    assert hosts <= names_before_ready(store, objects), hosts
    # the clients reach the member by the same name
    [secret] = [
        o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("leitai-store-registration-")
    ]
    assert any(host in data_of(secret)["mongo-url"] for host in hosts)


class Commands(monitoring.CommandListener):
    """Every command a client sent, by database."""

    def __init__(self) -> None:
        self.sent: set[tuple[str, str]] = set()

    def started(self, event) -> None:
        self.sent.add((event.database_name, event.command_name))

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass


def run_audit(tmp_path, mongo_url: str, mongo_client, given: dict) -> tuple[int, set[tuple[str, str]], list[dict]]:
    """The audit CronJob's command, run with exactly the environment and config files its
    manifest gives it (``given``: the cluster's Secrets and ConfigMaps) against this test's store
    (its databases prefixed): its exit code, the commands it sent by database, the objects."""
    objects = render("prod")
    pod = resolve(named(objects, "CronJob", "leitai-audit"), objects, given)
    config_dir = tmp_path / "etc-leitai"
    config_dir.mkdir()
    for filename, text in pod.files[CONFIG_MOUNT].items():
        (config_dir / filename).write_text(text)
    kept = next(a for a in pod.command if a.startswith("/var/lib/leitai-audit"))
    argv = [a.replace(CONFIG_MOUNT, str(config_dir)).replace(kept, str(tmp_path / "kept.json")) for a in pod.command]
    assert argv[0] == "leitai"
    prefix = f"leitai_test_{uuid.uuid4().hex[:8]}_"
    env = dict(pod.env, MONGO_URL=mongo_url, **{k: prefix + v for k, v in pod.env.items() if k.endswith("_DATABASE")})
    commands = Commands()
    client = functools.partial(MongoClient, event_listeners=[commands])
    try:
        with mock.patch.dict(os.environ, env, clear=True), mock.patch.object(mongo, "MongoClient", client):
            code = cli.main(argv[1:])
    finally:
        for name in mongo_client.list_database_names():
            if name.startswith(prefix):
                mongo_client.drop_database(name)
    sent = {(database.removeprefix(prefix), command) for database, command in commands.sent if database != "admin"}
    return code, sent, objects


@pytest.mark.integration
def test_the_nightly_audit_runs_in_production_with_its_manifests_environment_and_its_users_roles(
    tmp_path, mongo_url, mongo_client
):
    """Production refuses to keep checkpoints it could not check (an empty LEITAI_VERIFIER_KEYS),
    and every command the audit sends must be one the store user of its MONGO_URL may run, with
    the roles the MongoDBCommunity gives that user."""
    code, sent, objects = run_audit(tmp_path, mongo_url, mongo_client, PROD_SECRETS)
    assert code == 0
    user = urlparse(PROD_SECRETS["leitai-store-audit"]["mongo-url"]).username
    [grant] = [u for u in named(objects, "MongoDBCommunity", "leitai-mongodb")["spec"]["users"] if u["name"] == user]
    assert ("leitai_ranking_replay", "dropDatabase") in sent
    assert not refused_commands(grant["roles"], sent)


@pytest.mark.integration
def test_production_refuses_the_audit_an_empty_verifier_key(tmp_path, mongo_url, mongo_client, capsys):
    empty = dict(PROD_SECRETS, **{"leitai-verifier-keys": {"keys": ""}})
    code, _, _ = run_audit(tmp_path, mongo_url, mongo_client, empty)
    assert code == 2 and "LEITAI_VERIFIER_KEYS" in capsys.readouterr().err


# -- what the network policies let through, and whom they and the budgets select -------------
def endpoints(objects: list[dict]) -> dict[str, tuple[Endpoint, dict]]:
    """Every pod of the overlay (its workloads' and its operators'), with its template."""
    return {
        key: (Endpoint(key, NAMESPACE, template["metadata"].get("labels") or {}), template)
        for key, template in pod_templates(objects).items()
    }


def connections(objects: list[dict]) -> list[tuple[Endpoint, Endpoint, int, str]]:
    """Every connection the processes, the broker and the store need to work and be ready."""
    pods = endpoints(objects)
    leitai = [(e, t) for e, t in pods.values() if e.labels.get("app.kubernetes.io/name") == "leitai"]
    [broker] = [
        e for k, (e, _) in pods.items() if k in ("RabbitmqCluster/leitai-rabbitmq", "StatefulSet/leitai-rabbitmq")
    ]
    [store] = [
        e for k, (e, _) in pods.items() if k in ("MongoDBCommunity/leitai-mongodb", "StatefulSet/leitai-mongodb")
    ]
    needed = []
    for pod, template in leitai:
        env = {v["name"] for c in template["spec"]["containers"] for v in c.get("env", [])}
        needed += [(pod, broker, 5672, "AMQP"), (pod, KUBE_DNS, 53, "DNS"), (PROMETHEUS, pod, 9100, "metrics")]
        if "MONGO_URL" in env:
            needed.append((pod, store, 27017, "its store"))
        if "SMTP_PASSWORD" in env:
            needed.append((pod, MAIL_RELAY, 587, "mail"))
        if pod.labels.get("app.kubernetes.io/component") == "gateway":
            needed.append((INTRANET_INGRESS, pod, 8000, "HTTP"))
        if pod.labels.get("app.kubernetes.io/component") == "public-gateway":
            needed.append((INGRESS, pod, 8000, "HTTP"))
    needed += [(broker, broker, 25672, "clustering"), (store, store, 27017, "replication")]
    if of_kind(objects, "RabbitmqCluster"):
        needed += [
            (RABBITMQ_OPERATOR, broker, 15672, "the operator's management calls"),
            (broker, API_SERVER, 443, "peer discovery"),
        ]
    if of_kind(objects, "ScaledObject"):  # the rabbitmq scaler reads queue lengths over HTTP
        needed.append((KEDA, broker, 15672, "notify's queue lengths"))
    # the members' readiness probe reads its own pod through the Kubernetes API (mongodb/
    # mongodb-kubernetes, mongodb-community-operator/cmd/readiness/main.go: rest.InClusterConfig)
    if of_kind(objects, "MongoDBCommunity"):
        needed.append((store, API_SERVER, 443, "the readiness probe"))
    return needed


def test_every_connection_a_process_needs_gets_through_the_network_policies(overlay):
    _, objects = overlay
    policies = of_kind(objects, "NetworkPolicy")
    blocked = [
        f"{s.name} -> {t.name}:{port} ({why})"
        for s, t, port, why in connections(objects)
        if not allowed(policies, s, t, port)
    ]
    assert not blocked, blocked


def test_the_internet_reaches_only_the_public_gateway_and_a_gateway_never_the_store(overlay):
    _, objects = overlay
    policies, pods = of_kind(objects, "NetworkPolicy"), endpoints(objects)
    internal, public = pods["Deployment/leitai-gateway"][0], pods["Deployment/leitai-public-gateway"][0]
    assert not allowed(policies, INGRESS, internal, 8000)
    assert not allowed(policies, INTRANET_INGRESS, public, 8000)
    [store] = [e for k, (e, _) in pods.items() if e.labels.get("leitai.io/backing") == "store"]
    assert not [g.name for g in (internal, public) if allowed(policies, g, store, 27017)]


def test_every_policy_and_budget_selects_the_pods_it_is_meant_for(overlay):
    """A selector is only as good as the labels the pods carry: for an operator's pods, those it
    puts on them or its override's, never the custom resource's own."""
    _, objects = overlay
    pods = endpoints(objects)
    for policy in of_kind(objects, "NetworkPolicy"):
        wanted = policy["spec"]["podSelector"].get("matchLabels") or {}
        assert any(selects(wanted, e.labels) for e, _ in pods.values()), f"{policy['metadata']['name']} selects no pod"
    for budget in of_kind(objects, "PodDisruptionBudget"):
        chosen = {
            k.split("/")[1]
            for k, (e, _) in pods.items()
            if selects(budget["spec"]["selector"]["matchLabels"], e.labels)
        }
        assert chosen == {budget["metadata"]["name"]}, f"{budget['metadata']['name']}: {chosen}"


# -- Pod Security, the operators' pods included --------------------------------------------------
def test_every_pod_template_meets_the_namespaces_pod_security_level(overlay):
    _, objects = overlay
    level = named(objects, "Namespace", NAMESPACE)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
    assert level == "restricted"
    refused = {k: v for k, t in pod_templates(objects).items() if (v := restricted_violations(t))}
    assert not refused, refused


def test_a_pod_the_restricted_level_refuses_is_found():
    objects = render("prod")
    template = pod_templates(objects)["Deployment/leitai-gateway"]
    del template["spec"]["securityContext"]["seccompProfile"]
    template["spec"]["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    assert restricted_violations(template) == [
        "container leitai: capabilities must drop ALL",
        "container leitai: adds capabilities",
        "container leitai: seccompProfile RuntimeDefault or Localhost",
    ]


def test_mongod_is_given_the_memory_its_cache_is_sized_for():
    """The operator gives each container 500M unless told; WiredTiger sizes its cache from the
    node's memory unless told (https://www.mongodb.com/docs/manual/core/wiredtiger/#memory-use)."""
    objects = render("prod")
    resource = named(objects, "MongoDBCommunity", "leitai-mongodb")
    [mongod] = [
        c
        for c in pod_templates(objects)["MongoDBCommunity/leitai-mongodb"]["spec"]["containers"]
        if c["name"] == "mongod"
    ]
    limit = mongod["resources"]["limits"]["memory"]
    assert limit.endswith("Gi"), limit
    cache_gb = resource["spec"]["additionalMongodConfig"]["storage.wiredTiger.engineConfig.cacheSizeGB"]
    assert cache_gb <= 0.5 * (int(limit[:-2]) * 1.073741824 - 1)  # the default's share of a machine this size


def test_the_runbook_names_the_service_account_the_store_operator_runs_the_members_as():
    assert MONGODB_SERVICE_ACCOUNT in (ROOT / "docs" / "deploy.md").read_text()


# -- autoscaling -----------------------------------------------------------------------------
def test_keda_scales_notify_on_its_consumer_queues_and_never_on_retries_or_dead_letters():
    """Messages waiting in a retry queue or dead-lettered need no more replicas: counting them kept
    notify scaled up for as long as a dead letter waited."""
    [trigger] = named(render("prod"), "ScaledObject", "leitai-notify")["spec"]["triggers"]
    pattern = re.compile(trigger["metadata"]["queueName"])  # KEDA matches with Go's RE2: the same here
    queues = {  # every queue of every subscriber: its own, its retries', its dead letters'
        name
        for subscription in CATALOGUE.subscriptions
        for name in (
            subscription.queue_name,
            *(q.name for q in consumer_queues(subscription.queue_name, RetryPolicy())),
        )
    }
    notify = {s.queue_name for s in CATALOGUE.subscriptions if s.consumer == "notify"}
    assert notify and {name for name in queues if pattern.search(name)} == notify


def autoscaled(objects: list[dict]) -> dict[str, int]:
    """The Deployments an autoscaler sets the replicas of, with its minimum."""
    return {
        **{
            h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
            for h in of_kind(objects, "HorizontalPodAutoscaler")
        },
        **{s["spec"]["scaleTargetRef"]["name"]: s["spec"]["minReplicaCount"] for s in of_kind(objects, "ScaledObject")},
    }


def test_an_autoscaled_deployment_leaves_its_replicas_to_its_autoscaler(overlay):
    """An apply of a Deployment that sets replicas resets what the autoscaler scaled it to."""
    _, objects = overlay
    scaled = autoscaled(objects)
    assert scaled and not [n for n in scaled if "replicas" in named(objects, "Deployment", n)["spec"]]


# -- disruptions and spread --------------------------------------------------------------------
def test_a_drain_during_a_broker_or_store_outage_evicts_a_pod_of_every_process(overlay):
    """Readiness follows the broker and the store: while either is down every pod of leitai is
    unready, and a budget that refused to evict unready pods would block every drain."""
    _, objects = overlay
    scaled = autoscaled(objects)
    for budget in of_kind(objects, "PodDisruptionBudget"):
        name = budget["metadata"]["name"]
        if name in ("leitai-rabbitmq", "leitai-mongodb"):
            continue  # the broker's and the store's own: their quorum, next test
        replicas = named(objects, "Deployment", name)["spec"].get("replicas") or scaled[name]
        assert eviction_allowed(budget, [False] * replicas, evict_ready=False), name
        assert not eviction_allowed(budget, [True] * (replicas - 1) + [False], evict_ready=True), name


def test_a_drain_takes_at_most_one_broker_node_and_one_store_member():
    objects = render("prod")
    for name, members in (("leitai-rabbitmq", 3), ("leitai-mongodb", 3)):
        budget = named(objects, "PodDisruptionBudget", name)
        assert eviction_allowed(budget, [True] * members, evict_ready=True)
        assert not eviction_allowed(budget, [True] * (members - 1) + [False], evict_ready=True)


def test_the_pods_of_each_process_spread_over_zones_and_nodes(overlay):
    """Each replicated process (and the broker's and store's members in prod) keeps its pods
    apart: a zone spread and a node anti-affinity whose selectors select its own pods only."""
    _, objects = overlay
    pods = endpoints(objects)
    scaled = autoscaled(objects)
    replicated = [
        key
        for key, (_, template) in pods.items()
        if key.startswith(("RabbitmqCluster/", "MongoDBCommunity/"))
        or (
            key.startswith("Deployment/")
            and (
                named(objects, "Deployment", key.split("/")[1])["spec"].get("replicas")
                or scaled.get(key.split("/")[1], 1)
            )
            > 1
        )
    ]
    assert len(replicated) >= 9
    for key in replicated:
        endpoint, template = pods[key]
        own = {k for k, (e, _) in pods.items() if selects(template["metadata"]["labels"], e.labels)}
        spec = template["spec"]
        [zone] = [
            c for c in spec.get("topologySpreadConstraints", []) if c["topologyKey"] == "topology.kubernetes.io/zone"
        ]
        anti = spec.get("affinity", {}).get("podAntiAffinity", {})
        terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
            t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
        ]
        [node] = [t for t in terms if t["topologyKey"] == "kubernetes.io/hostname"]
        for term in (zone, node):
            chosen = {k for k, (e, _) in pods.items() if term_selects(term, endpoint.labels, e.labels)}
            assert chosen == own == {key}, f"{key}: {term} selects {chosen}"


# -- first install and stopping -----------------------------------------------------------------
def test_the_migrate_job_outlasts_a_broker_and_store_still_forming():
    """The Job controller retries a failed pod after 10 s, doubling to at most 6 min
    (https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-backoff-failure-policy):
    its retries must span the 15 minutes the runbook waits for the operators' clusters, within
    its deadline and the runbook's wait for it."""
    job = named(render("prod"), "Job", "leitai-migrate")["spec"]
    retrying = sum(min(10 * 2**n, 360) for n in range(job["backoffLimit"]))
    runbook = (ROOT / "docs" / "deploy.md").read_text()
    waited = int(re.search(r"wait --for=condition=complete job/leitai-migrate --timeout=(\d+)m", runbook).group(1))
    assert 15 * 60 <= retrying <= job["activeDeadlineSeconds"] <= waited * 60


def test_a_stopping_gateway_leaves_the_ingress_before_it_stops_answering(overlay):
    _, objects = overlay
    for name in ("leitai-gateway", "leitai-public-gateway"):
        spec = pod_spec(named(objects, "Deployment", name))
        [container] = spec["containers"]
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert 5 <= pause < spec["terminationGracePeriodSeconds"] - 30  # then nameko's own 30 s to finish


def test_a_retry_queue_hands_its_messages_back_at_least_once():
    """Quorum queues dead-letter at most once unless told otherwise
    (https://www.rabbitmq.com/docs/quorum-queues#dead-lettering): every retry queue, and only
    those, gets the policy that says at-least-once with the reject-publish it requires."""
    objects = render("prod")
    [policy] = [p for p in of_kind(objects, "Policy") if p["spec"]["definition"].get("dead-letter-strategy")]
    assert policy["spec"]["definition"] == {"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"}
    assert policy["spec"]["applyTo"] in ("queues", "quorum_queues")
    pattern = re.compile(policy["spec"]["pattern"])  # RabbitMQ matches with PCRE-like regexes: the same here
    for subscription in CATALOGUE.subscriptions:
        name = subscription.queue_name
        assert all(pattern.search(retry_queue_name(name, n)) for n in range(1, RetryPolicy().attempts))
        assert not pattern.search(name) and not pattern.search(dead_letter_queue_name(name))


def test_leitais_queues_are_quorum_queues_and_the_brokers_default_is_not():
    """A quorum default would make every reply queue nameko declares for RPC a quorum queue too
    (a Raft group each, one per gateway process and live screen's poller): leitai's durable
    queues say their type themselves, the same in every process that declares them (the relays,
    the migration, the services: tests/integration/test_pipeline.py shows they then agree)."""
    objects = render("prod")
    broker = named(objects, "RabbitmqCluster", "leitai-rabbitmq")["spec"]["rabbitmq"]["additionalConfig"]
    assert "default_queue_type" not in broker
    declarers = []
    for workload in of_kind(objects, "Deployment") + of_kind(objects, "Job"):
        pod = resolve(workload, objects, PROD_SECRETS)
        if (
            workload["metadata"]["labels"].get("app.kubernetes.io/name") != "leitai"
            or "GatewayService" in pod.command[-1]
        ):
            continue  # the gateways declare none of them
        config = loaded_config(pod, next(a for a in pod.command if a.startswith(CONFIG_MOUNT)))
        assert load_settings(config, only=("LEITAI_RETRY",)).LEITAI_RETRY.queue_type == "quorum", pod.name
        declarers.append(pod.name)
    assert len(declarers) == 8, declarers  # four services, three relays, the migration
