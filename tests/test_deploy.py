"""deploy/ stays usable without Docker or a cluster on this machine: the Dockerfile,
the compose file, HAProxy's configuration and the Kubernetes manifests are checked with
the tools their projects maintain (BuildKit's Dockerfile parser and hadolint, the compose
specification's schema, ``haproxy -c``, the Kubernetes API's schemas, kustomize), and
against what the README promises of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import dockerfile
import kubernetes_validate
import pytest
import yaml

from widget_server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
VENV_BIN = Path(sys.executable).parent

# --- Dockerfile ---------------------------------------------------------------------------


def stages() -> list[list[dockerfile.Command]]:
    """The Dockerfile's instructions, one list per stage, through BuildKit's own parser."""
    found: list[list[dockerfile.Command]] = []
    for command in dockerfile.parse_file(str(DEPLOY / "Dockerfile")):
        if command.cmd == "FROM":
            found.append([])
        if found:
            found[-1].append(command)
    return found


def test_the_image_is_built_in_stages_and_runs_unprivileged() -> None:
    build, final = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert build[0].value[-2:] == ("AS", "build")
    # Base images pinned to a release, never "latest".
    for stage in stages():
        image = stage[0].value[0]
        assert ":" in image and not image.endswith(":latest"), image
    users = [c.value[0] for c in final if c.cmd == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    # Nothing runs as root after the switch.
    assert [c.cmd for c in final].index("USER") > max(
        i for i, c in enumerate(final) if c.cmd == "RUN"
    )


def test_the_final_stage_installs_wheels_only() -> None:
    final = stages()[-1]
    copies = [c for c in final if c.cmd == "COPY"]
    assert copies and all(c.flags == ("--from=build",) for c in copies), copies
    installs = [c.original for c in final if c.cmd == "RUN" and "pip install" in c.original]
    assert len(installs) == 1
    install = installs[0]
    for flag in ("--no-index", "--only-binary=:all:", "--find-links=/wheels", "--no-cache-dir"):
        assert flag in install, flag
    # The package itself from its wheel, not from a source tree or a VCS URL.
    assert re.search(r"\s/wheels/widget_server-\*\.whl", install)
    assert not re.search(r"pip install[^&]*\s(\.|\./\S*|git\+\S+)(\s|$)", install)


def test_the_healthcheck_asks_healthz_and_the_server_listens_where_it_asks() -> None:
    final = stages()[-1]
    (check,) = [c for c in final if c.cmd == "HEALTHCHECK"]
    assert "http://127.0.0.1:8000/healthz" in check.original
    (cmd,) = [c for c in final if c.cmd == "CMD"]
    assert cmd.value == ("serve", "--host", "0.0.0.0", "--port", "8000")
    (expose,) = [c for c in final if c.cmd == "EXPOSE"]
    assert expose.value == ("8000",)


def test_everything_the_build_copies_from_the_checkout_exists() -> None:
    for command in stages()[0]:
        if command.cmd == "COPY":
            for source in command.value[:-1]:
                assert (ROOT / source).exists(), f"{source} is copied but not in the checkout"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for command in stages()[0]:
        if command.cmd == "COPY":
            assert not set(command.value[:-1]) & set(ignored), "a copied path is ignored"


def test_hadolint_finds_nothing() -> None:
    hadolint = VENV_BIN / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- compose ------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_compose_file_follows_the_compose_specification(tmp_path: Path) -> None:
    done = check_compose_schema(DEPLOY / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    # The schema bites: a misspelt key is refused.
    broken = (DEPLOY / "compose.yaml").read_text().replace("depends_on:", "depend_on:", 1)
    (tmp_path / "compose.yaml").write_text(broken)
    assert check_compose_schema(tmp_path / "compose.yaml").returncode != 0


def test_compose_migrates_before_two_replicas_behind_the_balancer() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "app", "lb"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["app"]["deploy"]["replicas"] == 2
    assert services["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    # The balancer's fixed address is the one proxy the apps trust.
    lb_address = services["lb"]["networks"]["widgets"]["ipv4_address"]
    assert services["app"]["environment"]["WIDGET_TRUSTED_PROXIES"] == f"{lb_address}/32"
    mounted = services["lb"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == DEPLOY / "haproxy" / "haproxy.cfg"


def test_compose_holds_no_secret() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search("SECRET|PASSWORD", key) and value:
                assert re.fullmatch(r"\$\{\w+:?[-?][^}]*\}", value), f"{name}: {key} is written in"


def test_the_balancers_configuration_is_valid() -> None:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        if os.environ.get("TEST_REQUIRE_HAPROXY") == "1":
            pytest.fail("HAProxy required (TEST_REQUIRE_HAPROXY=1) but not installed")
        pytest.skip("HAProxy not installed: apt-get install -y haproxy")
    config = DEPLOY / "haproxy" / "haproxy.cfg"
    done = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "server-template app" in config.read_text()  # every replica, not one address


# --- Kubernetes ---------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by kind (one of each)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBE.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, f"two {document['kind']}s"
            found[document["kind"]] = document
    return found


def test_every_manifest_is_valid_against_the_kubernetes_api() -> None:
    version = kubernetes_validate.latest_version()
    for kind, document in manifests().items():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{kind}: {error.message} at {list(error.path)}")
    assert set(manifests()) == {
        "ConfigMap",
        "Deployment",
        "Job",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }


def test_the_validator_bites() -> None:
    deployment = manifests()["Deployment"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)


def test_the_deployment_probes_healthz_and_runs_unprivileged() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_objects_point_at_each_other() -> None:
    found = manifests()
    deployment, pod_labels = found["Deployment"], found["Deployment"]["spec"]["template"]
    labels = pod_labels["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert found["Service"]["spec"]["selector"].items() <= labels.items()
    assert found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    (metric,) = found["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert found["PodDisruptionBudget"]["spec"]["minAvailable"] < deployment["spec"]["replicas"]
    # The job migrates with the app's image and settings.
    job = found["Job"]["spec"]["template"]["spec"]
    (migrate,) = job["containers"]
    (server,) = pod_labels["spec"]["containers"]
    assert migrate["args"] == ["migrate"]
    assert (migrate["image"], migrate["envFrom"]) == (server["image"], server["envFrom"])


def test_settings_and_secrets_are_referenced_not_written_in() -> None:
    found = manifests()
    assert not list(DEPLOY.rglob("*secret*.y*ml")), "a Secret manifest is in the repository"
    config = found["ConfigMap"]
    assert not [k for k in config["data"] if re.search("SECRET|PASSWORD|DATABASE_URL|REDIS", k)]
    (server,) = found["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert server["envFrom"] == [
        {"configMapRef": {"name": config["metadata"]["name"]}},
        {"secretRef": {"name": "widget-server"}},
    ]
    # Every setting named is one the server knows.
    known = {f"WIDGET_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert set(config["data"]) <= known
    # One hashing thread per CPU the pod asks for.
    cpus = server["resources"]["requests"]["cpu"]
    assert config["data"]["WIDGET_HASH_SLOTS"] == cpus


def test_every_kustomization_lists_its_folder() -> None:
    for kustomization in KUBE.rglob("kustomization.yaml"):
        listed = yaml.safe_load(kustomization.read_text())["resources"]
        here = kustomization.parent
        files = {p.name for p in here.glob("*.yaml")} - {"kustomization.yaml"}
        folders = {p.name for p in here.iterdir() if (p / "kustomization.yaml").is_file()}
        assert set(listed) - {r for r in listed if r.startswith("..")} <= files | folders
        assert files <= set(listed), f"{kustomization}: not every manifest is listed"
        for resource in listed:
            assert (here / resource).exists(), resource


@pytest.mark.parametrize("folder", ["", "migrate"])
def test_kustomize_builds_the_app_and_the_migration(folder: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (kustomize builds are checked where it is)")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUBE / folder)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(done.stdout))
    expected = (
        ["ConfigMap", "Job"]
        if folder
        else [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
        ]
    )
    assert kinds == expected
