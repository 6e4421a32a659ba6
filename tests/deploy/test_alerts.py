"""The alerts, evaluated by Prometheus's own rule engine (promtool test rules, Debian's build of
the pinned version: make deploy-tools) on made-up series labelled as the PodMonitor and
kube-state-metrics label them: each alert fires when it should and stays quiet when a standby
relay's stale gauges, an old failed audit or a relay that is not scraped at all would fool it."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.support.manifests import named, of_kind, render, tool

# a relay as the PodMonitor labels its series (podTargetLabels: app.kubernetes.io/component)
LEADER = 'pod="scoring-relay-b", namespace="leitai", app_kubernetes_io_component="scoring-relay"'
STANDBY = 'pod="scoring-relay-a", namespace="leitai", app_kubernetes_io_component="scoring-relay"'
AUDIT = 'namespace="leitai"'


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return render("prod")


def expression(objects: list[dict], alert: str) -> str:
    rule = named(objects, "PrometheusRule", "leitai")
    [expr] = [r["expr"] for g in rule["spec"]["groups"] for r in g["rules"] if r.get("alert") == alert]
    return expr


def evaluate(tmp_path, series: dict[str, str], checks: list[tuple[str, str, list[dict]]]) -> None:
    """promtool's verdict on ``checks`` (expression, evaluation time, the samples it must give)
    over ``series`` (name{labels} -> values, one a minute)."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": []}))
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": name, "values": values} for name, values in series.items()],
                "promql_expr_test": [
                    {"expr": expr, "eval_time": at, "exp_samples": samples} for expr, at, samples in checks
                ],
            }
        ],
    }
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(test))
    done = subprocess.run(
        [tool("promtool"), "test", "rules", str(tmp_path / "test.yaml")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rules_are_valid_prometheus_rules(objects, tmp_path):
    rule = named(objects, "PrometheusRule", "leitai")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_standby_relays_stale_gauges_raise_nothing_and_the_leaders_do(objects, tmp_path):
    """The standby held the lease until minute 5, when it counted a dead letter and a lag; the
    leader since then counts none, then falls behind."""
    series = {
        f"leitai_relay_leader{{{STANDBY}}}": "1 1 1 1 1 0x20",
        f"leitai_relay_leader{{{LEADER}}}": "0 0 0 0 0 1x20",
        f"leitai_relay_lag_seconds{{{STANDBY}}}": "0 0 0 0 100x21",
        f"leitai_relay_lag_seconds{{{LEADER}}}": "0x15 100x10",
        f'leitai_queue_messages{{{STANDBY}, queue="q", kind="dead_letter"}}': "0 0 0 0 3x21",
        f'leitai_queue_messages{{{LEADER}, queue="q", kind="dead_letter"}}': "0x25",
        f'leitai_queue_consumers{{{STANDBY}, queue="q"}}': "1 1 1 1 0x21",
        f'leitai_queue_consumers{{{LEADER}, queue="q"}}': "1x25",
    }
    lagging = expression(objects, "LeitaiRelayLagging")
    evaluate(
        tmp_path,
        series,
        [
            (lagging, "10m", []),
            (lagging, "20m", [{"labels": "{app_kubernetes_io_component='scoring-relay'}", "value": 100}]),
            (expression(objects, "LeitaiDeadLetters"), "10m", []),
            (expression(objects, "LeitaiQueueWithoutConsumer"), "10m", []),
        ],
    )


def test_no_relay_scraped_at_all_is_no_leader_for_every_store(objects, tmp_path):
    relays = sorted(
        d["metadata"]["labels"]["app.kubernetes.io/component"]
        for d in of_kind(objects, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"].endswith("-relay")
    )
    expected = [{"labels": f"{{app_kubernetes_io_component='{r}'}}", "value": 1} for r in relays]
    nothing = {'leitai_gateway_requests_total{pod="g", route="r", status="200"}': "1x10"}
    evaluate(tmp_path, nothing, [(expression(objects, "LeitaiNoRelayLeader"), "5m", expected)])


def test_only_the_latest_audit_failing_alerts_and_a_day_without_success_does_too(objects, tmp_path):
    failed, missed = expression(objects, "LeitaiAuditFailed"), expression(objects, "LeitaiAuditMissed")
    day = 24 * 3600
    series = {  # Job 1 failed, Job 2 (started later) succeeded; the CronJob last succeeded at 0
        f'kube_job_status_failed{{{AUDIT}, job_name="leitai-audit-1"}}': "1x30",
        f'kube_job_status_start_time{{{AUDIT}, job_name="leitai-audit-1"}}': "1000x30",
        f'kube_job_status_failed{{{AUDIT}, job_name="leitai-audit-2"}}': "0x30",
        f'kube_job_status_start_time{{{AUDIT}, job_name="leitai-audit-2"}}': "2000x30",
        f'kube_cronjob_status_last_successful_time{{{AUDIT}, cronjob="leitai-audit"}}': "0x1700",
    }
    evaluate(
        tmp_path,
        series,
        [(failed, "10m", []), (missed, "1d", []), (missed, "27h", [{"labels": "{}", "value": day + 3 * 3600}])],
    )
    series[f'kube_job_status_failed{{{AUDIT}, job_name="leitai-audit-2"}}'] = "1x30"
    evaluate(tmp_path, series, [(failed, "10m", [{"labels": "{}", "value": 1}])])
    # never a success since the CronJob was made, a day and three hours ago
    never = {f'kube_cronjob_created{{{AUDIT}, cronjob="leitai-audit"}}': "0x1700"}
    absent = "{namespace='leitai', cronjob='leitai-audit'}"  # absent() names what it missed
    evaluate(tmp_path, never, [(missed, "1d", []), (missed, "27h", [{"labels": absent, "value": 1}])])


def test_prometheus_of_kube_prometheus_stack_selects_the_monitor_and_the_rules(objects):
    """kube-prometheus-stack's default podMonitorSelector and ruleSelector are its Helm release's
    label (values.yaml: *SelectorNilUsesHelmValues: true); docs/deploy.md names the one set."""
    for kind in ("PodMonitor", "PrometheusRule"):
        assert named(objects, kind, "leitai")["metadata"]["labels"]["release"] == "kube-prometheus-stack"
