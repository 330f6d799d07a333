"""Pod-level guarantees for every container in every overlay: probes, resources, restricted security."""

from __future__ import annotations

import re

import pytest

from services.common.settings import Settings

from ._k8s import Manifests, Obj, pod_labels, selects

# Volume types the "restricted" Pod Security Standard allows.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def test_every_container_has_three_probes(overlay: Manifests) -> None:
    seen = 0
    for workload, c in overlay.containers():
        seen += 1
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert probe in c, f"{workload['metadata']['name']}/{c['name']} has no {probe}"
    assert seen >= 3


_SUFFIX = {"m": 1e-3, "": 1.0, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity(text: str | int) -> float:
    """A Kubernetes resource quantity as a number (cores or bytes)."""
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    assert match is not None, text
    return float(match[1]) * _SUFFIX[match[2]]


def test_quantity_parser() -> None:
    assert (quantity("250m"), quantity("1"), quantity("512Mi"), quantity(2)) == (0.25, 1.0, 512 * 2**20, 2.0)


def test_every_container_has_requests_within_limits(overlay: Manifests) -> None:
    for workload, c in overlay.containers():
        res = c.get("resources", {})
        where = f"{workload['metadata']['name']}/{c['name']}"
        requests, limits = res.get("requests", {}), res.get("limits", {})
        assert {"cpu", "memory"} <= set(requests), where
        assert {"cpu", "memory"} <= set(limits), where
        for name, limit in limits.items():
            assert quantity(requests.get(name, limit)) <= quantity(limit), (where, name)


def test_every_pod_meets_the_restricted_pod_security_standard(overlay: Manifests) -> None:
    for workload, c in overlay.containers():
        pod = workload["spec"]["template"]["spec"]
        where = f"{workload['metadata']['name']}/{c['name']}"
        psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
        assert psc.get("runAsNonRoot") is True, where
        assert psc.get("runAsUser", 0) > 0, where
        assert psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        assert csc.get("allowPrivilegeEscalation") is False, where
        assert csc.get("privileged", False) is False, where
        assert csc.get("readOnlyRootFilesystem") is True, where
        assert csc.get("capabilities", {}).get("drop") == ["ALL"], where
        assert not csc.get("capabilities", {}).get("add"), where
        assert pod.get("automountServiceAccountToken") is False, where
        assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), where
        assert csc.get("runAsUser", psc["runAsUser"]) > 0, where
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUME_TYPES, (where, volume["name"], kinds)


def test_namespace_enforces_restricted(overlay: Manifests) -> None:
    (ns,) = overlay.of_kind("Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(o["metadata"].get("namespace") == ns["metadata"]["name"] for o in overlay.objects if o is not ns)


def test_service_account_token_is_not_mounted(overlay: Manifests) -> None:
    for sa in overlay.of_kind("ServiceAccount"):
        assert sa.get("automountServiceAccountToken") is False


def _twinrx(overlay: Manifests, component: str) -> Obj:
    deployment = overlay.get("Deployment", f"twinrx-{component}")
    assert deployment is not None
    return deployment


def _main_container(deployment: Obj) -> Obj:
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


@pytest.mark.parametrize("component", ["api", "worker", "beat"])
def test_twinrx_pods_have_a_writable_tmp(overlay: Manifests, component: str) -> None:
    deployment = _twinrx(overlay, component)
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _main_container(deployment)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"]


def test_worker_grace_period_outlasts_the_hard_task_limit(overlay: Manifests) -> None:
    limit = int(overlay.config().get("TWINRX_TASK_TIME_LIMIT", Settings.model_fields["task_time_limit"].default))
    grace = _twinrx(overlay, "worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > limit
    assert limit == 300


def test_beat_is_a_single_replica_recreated(overlay: Manifests) -> None:
    beat = _twinrx(overlay, "beat")
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert not [
        h for h in overlay.of_kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == "twinrx-beat"
    ]


def test_api_rolls_without_losing_capacity(overlay: Manifests) -> None:
    api = _twinrx(overlay, "api")
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert _main_container(api)["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


@pytest.mark.parametrize("component", ["api", "worker", "beat"])
def test_twinrx_processes_read_config_and_redis_by_reference(overlay: Manifests, component: str) -> None:
    c = _main_container(_twinrx(overlay, component))
    assert [ref["configMapRef"]["name"] for ref in c["envFrom"]] == [overlay.config_map()["metadata"]["name"]]
    env = {e["name"]: e for e in c["env"]}
    assert "value" not in env["TWINRX_REDIS_URL"]
    assert env["TWINRX_REDIS_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"


def test_worker_probes_are_cheap(overlay: Manifests) -> None:
    """No probe of the worker or beat talks to the broker; they read the heartbeat file."""
    for component in ("worker", "beat"):
        c = _main_container(_twinrx(overlay, component))
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = c[probe]["exec"]["command"]
            assert command[:2] == ["twinrx-heartbeat-probe", f"/tmp/twinrx-{component}-heartbeat"]
            assert "celery" not in " ".join(command)
        assert c["livenessProbe"]["periodSeconds"] >= 60


def test_pdbs_cover_api_and_worker_but_not_the_single_beat(overlay: Manifests) -> None:
    covered = {
        d["metadata"]["name"]
        for d in overlay.of_kind("Deployment")
        for pdb in overlay.of_kind("PodDisruptionBudget")
        if selects(pdb["spec"]["selector"], pod_labels(d))
    }
    assert {"twinrx-api", "twinrx-worker"} <= covered
    assert "twinrx-beat" not in covered
