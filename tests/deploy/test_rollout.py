"""The rendered overlays read as a cluster would run them: what the kubelet mounts, what cluster
DNS resolves, what the network policies let through, what Pod Security admits and what the
operators make of leitai's custom resources (tests/support/cluster.py, each model from the
upstream source or documentation it cites). Each test stands for a way a rollout failed on
paper (docs/deploy.md, "What we verified and how")."""

from __future__ import annotations

import re

from tests.support.cluster import mounted_files, names_before_ready, writable
from tests.support.manifests import data_of, named, pod_spec, render

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
    [secret] = [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"].startswith("leitai-store-")]
    assert any(host in data_of(secret)["mongo-url"] for host in hosts)
