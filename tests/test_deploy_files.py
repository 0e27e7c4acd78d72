"""The scale-out files (deploy/, docker-compose.scale.yml) are valid and agree with each other.

No cluster and no compose run here: the Kubernetes manifests are validated against the
Kubernetes schemas, the HAProxy configuration by HAProxy itself, and the timings that make a
rolling restart drop nothing are checked across the files.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from best_app.config import Settings
from tests.utils.haproxy import CONFIG as HAPROXY_CONFIG
from tests.utils.haproxy import haproxy_binary

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
MANIFESTS = sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _by_kind(kind: str, name: str) -> dict[str, Any]:
    for manifest in MANIFESTS:
        for doc in _documents(K8S / manifest):
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                return doc
    raise AssertionError(f"no {kind} {name} in deploy/k8s")


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_kubernetes_manifest_is_valid(manifest: str) -> None:
    for doc in _documents(K8S / manifest):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    resources = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert resources == set(MANIFESTS) - {"secret.example.yaml"}


def test_kubernetes_drain_outlasts_the_readiness_probe_and_fits_the_grace_period() -> None:
    pod = _by_kind("Deployment", "best-app")["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    env = _env(app)
    drain, graceful = float(env["SHUTDOWN_DRAIN_SECONDS"]), float(env["GRACEFUL_TIMEOUT"])
    probe = app["readinessProbe"]
    assert probe["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
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


@pytest.mark.skipif(haproxy_binary() is None, reason="haproxy is not installed")
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
    assert binary is not None
    result = subprocess.run(  # noqa: S603 - our own command line
        [binary, "-c", "-f", str(HAPROXY_CONFIG)],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
