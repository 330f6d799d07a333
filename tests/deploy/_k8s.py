"""Render the kustomize overlays and walk the rendered objects (helpers for the deploy tests)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())

# The oldest Kubernetes minor twinrx supports (README "Deploy on Kubernetes"), and the newest schema
# kubernetes-validate ships, so an API removed upstream is caught too.
OLDEST_K8S = "1.32.0"
NEWEST_K8S = "1.37.0"

# Secrets the integrator creates; the manifests only reference them (README lists their keys).
EXTERNAL_SECRETS = {
    "twinrx-redis": {"url", "address", "password"},
    "twinrx-cds-trust": {"trusted-clients.json"},
    "twinrx-smart": {"private-key.pem"},
    "twinrx-tls": {"tls.crt", "tls.key"},
}

Obj = dict[str, Any]


def tool(name: str) -> str:
    """A command installed with the dev extras: the one beside this Python first, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found; install the dev extras (pip install -e '.[dev]')")
    return found


def render(path: Path) -> list[Obj]:
    """``kubectl kustomize path`` parsed into a list of objects."""
    out = subprocess.run(
        [tool("kubectl"), "kustomize", str(path)], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@dataclass(frozen=True)
class Manifests:
    """The rendered objects of one overlay, with look-ups the tests share."""

    name: str
    objects: list[Obj]

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Obj | None:
        return next((o for o in self.of_kind(kind) if o["metadata"]["name"] == name), None)

    def workloads(self) -> list[Obj]:
        return [o for o in self.objects if o["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}]

    def containers(self) -> Iterator[tuple[Obj, Obj]]:
        """(workload, container) for every container and init container."""
        for w in self.workloads():
            spec = w["spec"]["template"]["spec"]
            for c in [*spec.get("initContainers", []), *spec["containers"]]:
                yield w, c

    def config_map(self) -> Obj:
        """The one twinrx-config ConfigMap (its name carries a hash suffix)."""
        maps = [o for o in self.of_kind("ConfigMap") if o["metadata"]["name"].startswith("twinrx-config")]
        assert len(maps) == 1, [m["metadata"]["name"] for m in maps]
        return maps[0]

    def config(self) -> dict[str, str]:
        """The data of the twinrx-config ConfigMap."""
        data: dict[str, str] = self.config_map().get("data", {})
        return data


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """Whether a LabelSelector (matchLabels and matchExpressions) matches ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def config_doc() -> types.ModuleType:
    """``scripts/gen_config_doc.py`` as a module (scripts/ is not a package)."""
    path = REPO / "scripts" / "gen_config_doc.py"
    spec = importlib.util.spec_from_file_location("gen_config_doc", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
