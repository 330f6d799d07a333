"""The image definition, its build context and the laptop compose file (no Docker engine needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from ._k8s import REPO, Manifests, tool

DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
PROBE = REPO / "docker" / "heartbeat-probe.sh"


def _hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--no-color", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_hadolint_is_clean() -> None:
    result = _hadolint(DOCKERFILE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_flags_a_naive_dockerfile(tmp_path: Path) -> None:
    """Control: the same call does report problems (unpinned base, shell-form CMD, pip cache)."""
    naive = tmp_path / "Dockerfile"
    naive.write_text("FROM python\nRUN pip install twinrx\nCMD twinrx serve\n")
    result = _hadolint(naive)
    assert result.returncode != 0
    assert {"DL3006", "DL3025", "DL3042"} <= set(re.findall(r"DL\d{4}", result.stdout))


def _stages() -> list[list[str]]:
    """Dockerfile instructions (continuation lines joined, comments dropped) grouped by stage."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_image_is_multi_stage_with_a_lean_runtime() -> None:
    build, runtime = _stages()
    assert any("compileall" in i for i in build)
    assert any(i.startswith("COPY --from=build /opt/venv") for i in runtime)
    runtime_text = "\n".join(runtime)
    for tool_name in ("apt-get", "apk ", "gcc", "build-essential", "pip install"):
        assert tool_name not in runtime_text, tool_name


def test_image_runs_as_the_numeric_uid_the_pods_use(prod: Manifests) -> None:
    runtime = _stages()[-1]
    (user,) = [i.split()[1] for i in runtime if i.startswith("USER ")]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit()
    for name in ("twinrx-api", "twinrx-worker", "twinrx-beat"):
        deployment = prod.get("Deployment", name)
        assert deployment is not None
        pod = deployment["spec"]["template"]["spec"]["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"]) == (int(uid), int(gid))


def test_cmd_is_json_form_and_serves_one_process() -> None:
    runtime = _stages()[-1]
    (cmd,) = [i.removeprefix("CMD ") for i in runtime if i.startswith("CMD ")]
    assert json.loads(cmd) == ["twinrx", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert any(i.startswith("HEALTHCHECK ") and "/livez" in i for i in runtime)


def _dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.removeprefix("!").strip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        rules.append((negate, re.compile(regex)))
    return rules


def _in_context(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for negate, regex in _dockerignore_rules():
        if any(regex.fullmatch(c) for c in candidates):
            included = negate
    return included


def test_dockerignore_keeps_what_copy_needs_and_nothing_else() -> None:
    sources = [
        src
        for stage in _stages()
        for i in stage
        if i.startswith("COPY ") and "--from=" not in i
        for src in [w for w in i.split()[1:] if not w.startswith("--")][:-1]
    ]
    assert sources
    for src in sources:
        target = REPO / src
        assert target.exists(), src
        files = [target] if target.is_file() else [p for p in target.rglob("*.py") if "__pycache__" not in p.parts]
        for f in files:
            assert _in_context(f.relative_to(REPO).as_posix()), f
    for kept_out in (
        ".git/HEAD",
        ".venv/bin/python",
        "tests/conftest.py",
        "k8s/base/kustomization.yaml",
        "services/common/__pycache__/settings.cpython-311.pyc",
        "bench/pgx.py",
        ".env",
    ):
        assert not _in_context(kept_out), kept_out


def _probe(file: Path | str, max_age: str) -> int:
    return subprocess.run(["sh", str(PROBE), str(file), max_age], capture_output=True, timeout=10).returncode


def test_heartbeat_probe_accepts_fresh_and_refuses_stale_or_missing(tmp_path: Path) -> None:
    beat = tmp_path / "heartbeat"
    assert _probe(beat, "60") == 1
    beat.touch()
    assert _probe(beat, "60") == 0
    old = time.time() - 300
    os.utime(beat, (old, old))
    assert _probe(beat, "60") == 1
    assert _probe(beat, "600") == 0
    assert _probe(beat, "sixty") == 2
    assert os.access(PROBE, os.X_OK)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_publishes_the_api_on_localhost_only(compose: dict[str, Any]) -> None:
    published = {name: s.get("ports", []) for name, s in compose["services"].items()}
    assert published.pop("api") == ["127.0.0.1:8080:8080"]
    assert not any(published.values())


def test_compose_has_the_four_services_each_health_checked(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"api", "worker", "beat", "redis"}
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == "yes"
    assert "redis-data" in compose["volumes"]


def test_compose_twinrx_services_are_locked_down(compose: dict[str, Any]) -> None:
    for name in ("api", "worker", "beat"):
        service = compose["services"][name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["user"] == "10001:10001"
        assert any(t.startswith("/tmp") for t in service["tmpfs"])
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == REPO
        assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE


def test_compose_worker_outlasts_the_task_limit_and_probes_like_k8s(compose: dict[str, Any], prod: Manifests) -> None:
    worker = compose["services"]["worker"]
    assert int(worker["stop_grace_period"].removesuffix("s")) > 300
    for name in ("worker", "beat"):
        deployment = prod.get("Deployment", f"twinrx-{name}")
        assert deployment is not None
        k8s_probe = deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["exec"]["command"]
        assert compose["services"][name]["healthcheck"]["test"][1:] == k8s_probe
