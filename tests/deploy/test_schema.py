"""Every overlay renders with kustomize and passes strict Kubernetes schema validation.

Strict validation rejects unknown fields as well as wrong types. CRDs (KEDA, Prometheus Operator)
have no schema in kubernetes-validate; test_wiring.py checks the fields of those we rely on.
"""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from ._k8s import K8S, NEWEST_K8S, OLDEST_K8S, OVERLAYS, Manifests, render

CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}


def test_dev_and_prod_overlays_exist() -> None:
    assert {"dev", "prod"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", [OLDEST_K8S, NEWEST_K8S])
def test_overlay_is_valid_kubernetes(overlay: Manifests, version: str) -> None:
    kinds = set()
    for obj in overlay.objects:
        kinds.add(obj["kind"])
        if obj["kind"] in CRD_KINDS:
            continue
        assert kubernetes_validate.validate(obj, version, strict=True)
    assert {"Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"} <= kinds
    assert kinds - CRD_KINDS, "nothing but CRDs was validated"


@pytest.mark.parametrize("version", [OLDEST_K8S])
def test_base_renders_and_is_valid(version: str) -> None:
    objects = render(K8S / "base")
    # An empty render would validate vacuously: the base must hold every workload and its companions.
    assert {(o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] != "ConfigMap"} == {
        ("Deployment", "twinrx-api"),
        ("Deployment", "twinrx-beat"),
        ("Deployment", "twinrx-worker"),
        ("HorizontalPodAutoscaler", "twinrx-api"),
        ("Ingress", "twinrx-api"),
        ("Namespace", "twinrx"),
        ("PodDisruptionBudget", "twinrx-api"),
        ("PodDisruptionBudget", "twinrx-worker"),
        ("Service", "twinrx-api"),
        ("ServiceAccount", "twinrx"),
    }
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


def test_validator_rejects_an_unknown_field(prod: Manifests) -> None:
    """Control: the same validation call does fail on a misspelt field."""
    worker = copy.deepcopy(prod.get("Deployment", "twinrx-worker"))
    assert worker is not None
    worker["spec"]["template"]["spec"]["terminationGracePeriod"] = 360
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(worker, OLDEST_K8S, strict=True)
