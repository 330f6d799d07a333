"""FastAPI dependencies as ``Annotated`` aliases, so route signatures stay one line per dependency."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ._auth import Authenticator
from ._service import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def require_client(request: Request) -> dict[str, Any] | None:
    """The verified client JWT claims; ``None`` only in explicitly enabled development mode.

    A sync dependency on purpose: it runs in the thread pool, where the ECDSA/RSA verification (which
    releases the GIL) overlaps with other requests, and the ``jti`` ``SET NX`` never blocks the loop.
    """
    auth: Authenticator | None = request.app.state.authenticator
    if auth is None:
        return None
    return auth.verify(request.headers.get("authorization"), request.url.path)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ClientDep = Annotated[dict[str, Any] | None, Depends(require_client)]
