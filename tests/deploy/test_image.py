"""The image `make image` builds (deploy/image), built here with buildah and run with it: the
processes' programs are on its PATH, it runs as UID 10001 and can write only /tmp, and the
migrate Job's command, with the environment and config files its manifest gives it, does its
work from inside the image against this test's broker and store."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from testkit.servers import ROOT
from tests.support.manifests import CONFIG_MOUNT, named, of_kind, render, resolve

pytestmark = pytest.mark.integration
IMAGE = "localhost/leitai:test"
BUILDAH = ["buildah", "--storage-driver", "vfs"]


def buildah(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*BUILDAH, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image():
    built = subprocess.run(
        [str(ROOT / "deploy" / "image" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LEITAI_IMAGE": IMAGE, "HOME": "/root"},
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-4000:]
    yield IMAGE
    buildah("rmi", IMAGE)


@pytest.fixture
def container(image):
    name = f"leitai-test-{uuid.uuid4().hex[:8]}"
    made = buildah("from", "--name", name, image)
    assert made.returncode == 0, made.stderr
    yield name
    buildah("rm", name)


def run(container: str, *command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    flags = [f for k, v in (env or {}).items() for f in ("-e", f"{k}={v}")]
    return buildah("run", "--isolation", "chroot", *flags, container, "--", *command)


def test_the_image_runs_every_process_as_a_non_root_user_that_writes_only_tmp(container):
    programs = sorted(
        {
            resolve(d, render("dev"), {}).command[0]
            for d in of_kind(render("dev"), "Deployment")
            if d["metadata"]["labels"]["app.kubernetes.io/name"] == "leitai"
        }
    )
    assert programs == ["leitai", "nameko"]
    done = run(
        container,
        "sh",
        "-c",
        "id -u; " + "; ".join(f"command -v {p}" for p in programs) + "; touch /tmp/w && echo tmp ok; "
        "touch /opt/leitai/w 2>/dev/null || echo code read-only; touch /etc/w 2>/dev/null || echo etc read-only",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "10001" and "/opt/leitai/bin/leitai" in lines and "/opt/leitai/bin/nameko" in lines
    assert "tmp ok" in done.stdout and "code read-only" in done.stdout and "etc read-only" in done.stdout
    imported = run(
        container,
        "python3",
        "-c",
        "import composition.cli, nameko.cli.main; "
        "import services.registration.service, services.scoring.service, services.ranking.service, "
        "services.notify.service, services.gateway.service",
    )
    assert imported.returncode == 0, imported.stderr[-2000:]


def test_the_migrate_job_runs_in_the_image_with_its_manifests_environment(
    container, vhost, mongo_url, mongo_client, tmp_path
):
    objects = render("dev")
    pod = resolve(
        named(objects, "Job", "leitai-migrate"),
        objects,
        {"leitai-broker": {"amqp-uri": vhost.uri}, "leitai-store-migrate": {"mongo-url": mongo_url}},
    )
    config = tmp_path / "config"
    config.mkdir()
    for filename, text in pod.files[CONFIG_MOUNT].items():
        (config / filename).write_text(text)
    assert buildah("copy", container, str(config), CONFIG_MOUNT).returncode == 0
    prefix = f"leitai_test_{uuid.uuid4().hex[:8]}"
    env = dict(pod.env, **{k: f"{prefix}_{v}" for k, v in pod.env.items() if k.endswith("_DATABASE")})
    try:
        done = run(container, *pod.command, env=env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert json.loads(done.stdout.splitlines()[-1])["databases"] == sorted(
            f"{prefix}_leitai_{name}" for name in ("ranking", "registration", "scoring")
        )
        assert "events.event_id_1" in {
            i["name"] for i in mongo_client[f"{prefix}_leitai_scoring"].commits.list_indexes()
        }
        refused = run(container, "leitai", "--config", f"{CONFIG_MOUNT}/missing.yaml", "verify")
        assert refused.returncode == 2 and f"{CONFIG_MOUNT}/missing.yaml" in refused.stderr
    finally:
        for name in ("ranking", "registration", "scoring"):
            mongo_client.drop_database(f"{prefix}_leitai_{name}")
