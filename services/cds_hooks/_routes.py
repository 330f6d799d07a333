"""HTTP routes: thin wrappers over :mod:`._service`, :mod:`._feedback` and :mod:`._discovery`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException

from . import _metrics as metrics
from ._discovery import discovery
from ._feedback import validate_item
from ._models import CardsResponse, DiscoveryResponse, FeedbackRequest, HookRequest
from ._service import service_spec
from .deps import ClientDep, RuntimeDep

router = APIRouter()
ops = APIRouter()


@router.get("/cds-services", response_model=DiscoveryResponse, response_model_exclude_none=True)
def get_discovery(_: ClientDep) -> DiscoveryResponse:
    """CDS Hooks discovery: the services, hooks and prefetch templates."""
    return discovery()


@router.post("/cds-services/{service_id}", response_model=CardsResponse, response_model_exclude_none=True)
def call_service(service_id: str, body: HookRequest) -> CardsResponse:
    """Call a CDS service: cards for the hook's context (optional fields omitted, never null)."""
    # This route documents the operation (OpenAPI, and 405 for other methods on the path); the app's
    # HookCalls middleware answers every POST to it before FastAPI's routing (why: see ._hookcall).
    raise RuntimeError("hook calls are answered by the HookCalls middleware")


@router.api_route("/cds-services/{service_id}", methods=["GET", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def other_method(service_id: str, _: ClientDep) -> None:
    """404 naming an unknown service whatever the method (routing alone said 405); 405 for a known one."""
    spec = service_spec(service_id)
    raise HTTPException(405, f"CDS service {spec.id} is called with POST", headers={"Allow": "POST"})


@router.post("/cds-services/{service_id}/feedback")
def post_feedback(service_id: str, body: FeedbackRequest, rt: RuntimeDep, _: ClientDep) -> dict[str, Any]:
    """Card feedback (accepted / overridden), stored in a Redis stream."""
    spec = service_spec(service_id)
    items = rt.feedback.checked(spec.id, [validate_item(item, i) for i, item in enumerate(body.feedback)])
    for fields in items:
        rt.feedback.add(spec.id, fields)
        metrics.FEEDBACK.labels(spec.id, fields["outcome"]).inc()
    return {}


@ops.get("/livez", include_in_schema=False)
def livez() -> dict[str, str]:
    return {"status": "ok"}


@ops.get("/readyz", include_in_schema=False)
def readyz(request: Request, response: Response) -> dict[str, str]:
    try:
        request.app.state.redis.ping()
    except Exception:
        response.status_code = 503
        return {"status": "unavailable", "redis": "down"}
    return {"status": "ok", "redis": "up"}


@ops.get("/metrics", include_in_schema=False)
def prometheus() -> Response:
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
