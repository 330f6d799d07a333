"""What the manifests and compose file call exists: HTTP paths in the API app, commands in the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer
import yaml

from services.common.settings import Settings

from ..conftest import redis_db_url
from ._k8s import REPO, Manifests

# The operational paths the design names (section 8); the tests below call them on the real app.
DOCUMENTED_PATHS = {"/livez", "/readyz", "/metrics", "/cds-services"}
REDIS_DB = 12  # this test area's database


def _http_probe_paths(m: Manifests) -> set[str]:
    return {
        c[probe]["httpGet"]["path"]
        for _, c in m.containers()
        for probe in ("startupProbe", "readinessProbe", "livenessProbe")
        if "httpGet" in c.get(probe, {})
    }


def _ingress_paths(m: Manifests) -> set[str]:
    return {p["path"] for i in m.of_kind("Ingress") for r in i["spec"]["rules"] for p in r["http"]["paths"]}


def _monitor_paths(m: Manifests) -> set[str]:
    return {e["path"] for s in m.of_kind("ServiceMonitor") for e in s["spec"]["endpoints"]}


def test_probe_paths_are_the_documented_ones(overlay: Manifests) -> None:
    assert _http_probe_paths(overlay) == {"/livez", "/readyz"}
    assert _ingress_paths(overlay) == {"/cds-services"}
    assert _monitor_paths(overlay) <= DOCUMENTED_PATHS


@pytest.fixture(scope="module")
def api_client(redis_base_url: str) -> Iterator[Any]:
    """The real CDS Hooks app (``services.cds_hooks.create_app``) on a real Redis."""
    import redis
    from fastapi.testclient import TestClient

    from services.cds_hooks import create_app

    url = redis_db_url(redis_base_url, REDIS_DB)
    settings = Settings(environment="test", redis_url=url, cds_auth_disabled=True)
    client = redis.Redis.from_url(url)
    try:
        with TestClient(create_app(settings, redis_client=client)) as test_client:
            yield test_client
    finally:
        client.close()


def test_probe_and_scrape_paths_answer_on_the_real_app(prod: Manifests, api_client: Any) -> None:
    for path in sorted(_http_probe_paths(prod) | _monitor_paths(prod)):
        response = api_client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
    assert "text/plain" in api_client.get("/metrics").headers["content-type"]


def test_ingress_exposes_exactly_the_public_api(prod: Manifests, api_client: Any) -> None:
    """Every path in the app's OpenAPI document (the public surface) is under an Ingress path, and
    every Ingress path leads to one; the operational paths are left out of both."""
    public = set(api_client.app.openapi()["paths"])
    prefixes = _ingress_paths(prod)

    def under(path: str, prefix: str) -> bool:
        return path == prefix or path.startswith(prefix.rstrip("/") + "/")

    assert public and all(any(under(p, pre) for pre in prefixes) for p in public), public
    assert all(any(under(p, pre) for p in public) for pre in prefixes)
    assert not public & {"/livez", "/readyz", "/metrics"}
    discovery = api_client.get("/cds-services")
    assert discovery.status_code == 200
    assert discovery.json()["services"]


def _cli_commands() -> dict[str, Any]:
    """The sub-commands of ``twinrx`` as click commands (typer may vendor its own click)."""
    from services.cli import _build_app

    commands: dict[str, Any] = getattr(typer.main.get_command(_build_app()), "commands")  # noqa: B009
    return commands


def _commands_used() -> list[tuple[str, list[str]]]:
    """Every ``twinrx ...`` command line in the base manifests and the compose file."""
    lines: list[list[str]] = []
    for path in (REPO / "k8s" / "base").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                lines += [c["args"] for c in doc["spec"]["template"]["spec"]["containers"]]
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    lines += [s["command"] for s in compose["services"].values() if s["command"][0] == "twinrx"]
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    lines.append(yaml.safe_load(cmd.removeprefix("CMD ")))
    return [(line[1], line[2:]) for line in lines]


def test_every_role_is_started_somewhere() -> None:
    assert {name for name, _ in _commands_used()} == {"serve", "worker", "beat"}


@pytest.mark.parametrize(("name", "args"), sorted({(n, tuple(a)) for n, a in _commands_used()}))
def test_commands_and_options_exist_in_the_cli(name: str, args: tuple[str, ...]) -> None:
    command = _cli_commands().get(name)
    assert command is not None, f"`twinrx {name}` is not a CLI command"
    known = {opt for p in command.params for opt in p.opts}
    options = [a for a in args if a.startswith("--")]
    assert set(options) <= known, f"`twinrx {name}` lacks {set(options) - known}"
    context = command.make_context(f"twinrx {name}", list(args), resilient_parsing=False)
    assert context.params
