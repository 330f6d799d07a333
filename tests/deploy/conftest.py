"""Rendered manifests, once per test session (``kubectl kustomize`` takes about a second per overlay)."""

from __future__ import annotations

from functools import cache

import pytest

from ._k8s import K8S, OVERLAYS, Manifests, render


@cache
def rendered(name: str) -> Manifests:
    return Manifests(name, render(K8S / "overlays" / name))


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> Manifests:
    """Each overlay under k8s/overlays, rendered."""
    return rendered(request.param)


@pytest.fixture
def prod() -> Manifests:
    return rendered("prod")


@pytest.fixture
def dev() -> Manifests:
    return rendered("dev")
