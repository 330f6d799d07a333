"""Objects that name other objects name ones that exist: autoscalers, Services, Ingress, monitors, Secrets."""

from __future__ import annotations

import tomllib

import pytest

from services.common.celery_app import QUEUE
from services.common.settings import Settings

from ._k8s import EXTERNAL_SECRETS, REPO, Manifests, Obj, config_doc, pod_labels, selects


def _deployment_names(m: Manifests) -> set[str]:
    return {d["metadata"]["name"] for d in m.of_kind("Deployment")}


def test_hpa_and_scaledobject_target_existing_deployments_never_the_same(overlay: Manifests) -> None:
    deployments = _deployment_names(overlay)
    hpa_targets = [h["spec"]["scaleTargetRef"] for h in overlay.of_kind("HorizontalPodAutoscaler")]
    keda_targets = [s["spec"]["scaleTargetRef"] for s in overlay.of_kind("ScaledObject")]
    for ref in [*hpa_targets, *keda_targets]:
        assert ref.get("kind", "Deployment") == "Deployment"
        assert ref["name"] in deployments
    hpa_names = [r["name"] for r in hpa_targets]
    keda_names = [r["name"] for r in keda_targets]
    assert not set(hpa_names) & set(keda_names)
    assert len(set(hpa_names)) == len(hpa_names) and len(set(keda_names)) == len(keda_names)
    assert hpa_names == ["twinrx-api"]


def test_prod_scales_workers_on_the_celery_queue(prod: Manifests) -> None:
    (scaled,) = prod.of_kind("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "twinrx-worker"
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    assert trigger["metadata"]["listName"] == QUEUE
    assert int(trigger["metadata"]["listLength"]) > 0
    auth = prod.get("TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth is not None
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in EXTERNAL_SECRETS[ref["name"]]
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"address", "password"}


def test_services_select_pods_and_target_named_ports(overlay: Manifests) -> None:
    for svc in overlay.of_kind("Service"):
        selector = {"matchLabels": svc["spec"]["selector"]}
        matched = [d for d in overlay.of_kind("Deployment") if selects(selector, pod_labels(d))]
        assert len(matched) == 1, svc["metadata"]["name"]
        containers = matched[0]["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), (svc["metadata"]["name"], target)


def test_workload_selectors_match_their_own_templates_only(overlay: Manifests) -> None:
    for d in overlay.workloads():
        owners = [o["metadata"]["name"] for o in overlay.workloads() if selects(o["spec"]["selector"], pod_labels(d))]
        assert owners == [d["metadata"]["name"]]


def test_pdbs_select_pods(overlay: Manifests) -> None:
    for pdb in overlay.of_kind("PodDisruptionBudget"):
        assert any(selects(pdb["spec"]["selector"], pod_labels(d)) for d in overlay.of_kind("Deployment"))


def _service_port_names(svc: Obj) -> set[str]:
    return {p["name"] for p in svc["spec"]["ports"]}


def test_ingress_is_tls_and_routes_to_a_service_port(overlay: Manifests) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    tls_hosts = {h for t in ingress["spec"]["tls"] for h in t["hosts"]}
    assert all(t.get("secretName") for t in ingress["spec"]["tls"])
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            svc = overlay.get("Service", backend["name"])
            assert svc is not None
            assert backend["port"]["name"] in _service_port_names(svc)


def test_public_base_url_is_the_ingress_host(overlay: Manifests) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    assert overlay.config()["TWINRX_PUBLIC_BASE_URL"] == f"https://{ingress['spec']['rules'][0]['host']}"


def test_servicemonitor_scrapes_a_named_port_of_the_api_service(prod: Manifests) -> None:
    (monitor,) = prod.of_kind("ServiceMonitor")
    services = [s for s in prod.of_kind("Service") if selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
    assert [s["metadata"]["name"] for s in services] == ["twinrx-api"]
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in _service_port_names(services[0])
        assert endpoint["path"] == "/metrics"


def _secret_refs(m: Manifests) -> list[tuple[str, str | None]]:
    refs: list[tuple[str, str | None]] = []
    for w in m.workloads():
        spec = w["spec"]["template"]["spec"]
        refs += [(v["secret"]["secretName"], None) for v in spec.get("volumes", []) if "secret" in v]
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.append((ref["name"], ref["key"]))
    refs += [(t["secretName"], None) for i in m.of_kind("Ingress") for t in i["spec"]["tls"]]
    return refs


def test_secrets_are_referenced_never_written_in_prod(prod: Manifests) -> None:
    assert prod.of_kind("Secret") == []
    refs = _secret_refs(prod)
    assert {name for name, _ in refs} == set(EXTERNAL_SECRETS)
    for name, key in refs:
        assert key is None or key in EXTERNAL_SECRETS[name]


def test_dev_generates_every_secret_key_it_reads(dev: Manifests) -> None:
    generated = {s["metadata"]["name"]: set(s["data"]) for s in dev.of_kind("Secret")}
    for name, key in _secret_refs(dev):
        if key is not None:
            assert key in generated[name]
    redis = next(s for s in dev.of_kind("Secret") if s["metadata"]["name"].startswith("twinrx-redis"))
    assert set(redis["data"]) == EXTERNAL_SECRETS["twinrx-redis"]


def test_configmap_holds_only_real_non_secret_settings(overlay: Manifests) -> None:
    fields = Settings.model_fields
    is_secret = config_doc()._is_secret
    assert is_secret("redis_url", fields["redis_url"]) and is_secret("smart_private_key", fields["smart_private_key"])
    for key in overlay.config():
        assert key.startswith("TWINRX_"), key
        name = key.removeprefix("TWINRX_").lower()
        assert name in fields, f"{key} is not a Settings field"
        assert not is_secret(name, fields[name]), f"{key} is a credential: set it from a Secret"


def test_configmap_values_load_into_settings(overlay: Manifests, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap plus a Redis URL from the Secret is a configuration the processes accept."""
    for key, value in overlay.config().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TWINRX_REDIS_URL", "redis://redis.example:6379/0")
    settings = Settings()
    expected = "development" if overlay.name == "dev" else "production"
    assert settings.environment == expected
    assert settings.cds_auth_disabled is (overlay.name == "dev")


def test_network_policy_peers_outside_the_namespace_carry_no_twinrx_labels(prod: Manifests) -> None:
    """Kustomize label transformers also rewrite peer selectors; a DNS peer with our labels matches nothing."""
    policies = prod.of_kind("NetworkPolicy")
    assert {"twinrx-default-deny", "twinrx-allow-dns"} <= {p["metadata"]["name"] for p in policies}
    for policy in policies:
        for rule in [*policy["spec"].get("ingress", []), *policy["spec"].get("egress", [])]:
            for peer in [*rule.get("from", []), *rule.get("to", [])]:
                if "namespaceSelector" in peer and "podSelector" in peer:
                    labels = peer["podSelector"].get("matchLabels", {})
                    assert not any(k.startswith("app.kubernetes.io/") for k in labels), policy["metadata"]["name"]


def test_network_policies_let_each_process_reach_what_it_needs(prod: Manifests) -> None:
    policies = prod.of_kind("NetworkPolicy")
    deny = prod.get("NetworkPolicy", "twinrx-default-deny")
    assert deny is not None and deny["spec"]["podSelector"] == {}
    assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}

    def egress_ports(component: str) -> set[int]:
        labels = pod_labels(prod.get("Deployment", f"twinrx-{component}") or {})
        return {
            port["port"]
            for p in policies
            if selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
            for port in rule.get("ports", [])
        }

    assert {53, 6379, 443} <= egress_ports("api")
    assert {53, 6379, 443} <= egress_ports("worker")
    assert {53, 6379} <= egress_ports("beat") and 443 not in egress_ports("beat")

    api_labels = pod_labels(prod.get("Deployment", "twinrx-api") or {})
    ingress_ports = {
        port["port"]
        for p in policies
        if selects(p["spec"]["podSelector"], api_labels)
        for rule in p["spec"].get("ingress", [])
        for port in rule.get("ports", [])
    }
    assert ingress_ports == {"http"}


def test_release_version_agrees_everywhere(prod: Manifests) -> None:
    """pyproject's version is the image tag, the version label and the image's version label."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name in ("twinrx-api", "twinrx-worker", "twinrx-beat"):
        deployment = prod.get("Deployment", name)
        assert deployment is not None
        assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == version
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"registry.hospital.example/twinrx/twinrx:{version}"
    assert f"ARG VERSION={version}\n" in (REPO / "docker" / "Dockerfile").read_text()
