"""CLI edge of services.cds_hooks: ``twinrx serve``, ``twinrx hook send``, ``twinrx feedback list``."""

from __future__ import annotations

import contextlib
import json
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from services.common.errors import InputFileError, UpstreamError


class JwtAlg(StrEnum):
    """The JWT algorithms CDS Hooks recommends; `none` and HMAC are refused by design."""

    ES384 = "ES384"
    RS384 = "RS384"


hook_app = typer.Typer(no_args_is_help=True)
feedback_app = typer.Typer(no_args_is_help=True)


@hook_app.callback()
def _hook_group() -> None:
    """Send CDS Hooks requests."""


@feedback_app.callback()
def _feedback_group() -> None:
    """Card feedback stored by the CDS service."""


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes (containers: 1).")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Run the CDS Hooks API with uvicorn (an embedded Redis when TWINRX_REDIS_URL is unset)."""
    import os

    import uvicorn

    from services.common.logging import configure_logging
    from services.common.redis_conn import embedded_redis
    from services.common.settings import get_settings

    from ._app import create_app

    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default action the process would die
    # before the embedded Redis below is stopped. Turning it into SystemExit unwinds the ExitStack.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with contextlib.ExitStack() as stack:
        if settings.redis_url is None:
            url = stack.enter_context(embedded_redis())
            settings = settings.model_copy(update={"redis_url": url})
            os.environ["TWINRX_REDIS_URL"] = url  # worker processes read it
        if workers == 1:
            uvicorn.run(
                create_app(settings, freeze_gc=True), host=host, port=port, log_level=log_level, access_log=False
            )
        else:
            from ._workers import serve_workers  # connections balanced over the workers (see there)

            serve_workers(
                "services.cds_hooks._app:app_from_environment",
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
            )


@hook_app.command("send")
def send(
    file: Annotated[Path, typer.Argument(help="JSON body of the hook request.")],
    service: Annotated[str, typer.Option(help="CDS service id.")] = "twinrx-pgx-order-select",
    url: Annotated[str, typer.Option(help="Base URL of the CDS service.")] = "http://127.0.0.1:8080",
    key: Annotated[Path | None, typer.Option(help="PEM private key (ES384/RS384) to sign the JWT.")] = None,
    kid: Annotated[str, typer.Option(help="JWT kid.")] = "twinrx-dev",
    iss: Annotated[str, typer.Option(help="JWT iss (a trusted client).")] = "https://twinrx.dev/cli",
    alg: Annotated[JwtAlg, typer.Option(help="Signature algorithm (CDS Hooks allows no others).")] = JwtAlg.ES384,
    aud_base: Annotated[str | None, typer.Option(help="Public base URL for aud (default: --url).")] = None,
) -> None:
    """Send one CDS Hooks request (signed when --key is given) and print the response."""
    import httpx

    from ._client import send_hook, sign_client_jwt
    from ._signing_key import checked_signing_key

    try:
        body = json.loads(file.read_text())
    except OSError as exc:
        raise InputFileError(f"cannot read: {exc.strerror}", location=str(file)) from exc
    except ValueError as exc:
        raise InputFileError("not valid JSON", location=str(file)) from exc
    token = None
    if key is not None:
        aud = f"{(aud_base or url).rstrip('/')}/cds-services/{service}"
        token = sign_client_jwt(checked_signing_key(key, alg.value), kid=kid, iss=iss, aud=aud, alg=alg.value)
    try:
        resp = send_hook(url, service, body, token=token)
    except httpx.HTTPError as exc:
        raise UpstreamError(f"cannot reach {url}: {exc.__class__.__name__}") from exc
    try:
        typer.echo(json.dumps(resp.json() if resp.content else {}, indent=2))
    except ValueError:  # an error page from a proxy or a crashed server: show it as text
        typer.echo(resp.text)
    if resp.status_code != 200:
        typer.echo(f"HTTP {resp.status_code}", err=True)
        raise typer.Exit(1)


@feedback_app.command("list")
def list_feedback(
    service: Annotated[str | None, typer.Option(help="Only this CDS service id.")] = None,
    count: Annotated[int, typer.Option(min=1, max=10000, help="Newest N entries.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """Print card feedback stored by the CDS service (newest first)."""
    from services.common.errors import ConfigError, NotFound
    from services.common.redis_conn import connect
    from services.common.settings import get_settings

    from ._discovery import SERVICES
    from ._feedback import FeedbackStore

    if service is not None and service not in SERVICES:  # else a typo reads as "no feedback"
        raise NotFound(f"unknown CDS service {service!r}; the services are: {', '.join(SERVICES)}")
    settings = get_settings()
    if settings.redis_url is None:
        raise ConfigError("set TWINRX_REDIS_URL to the Redis the CDS service uses")
    store = FeedbackStore(connect(settings.redis_url), maxlen=settings.cds_feedback_stream_maxlen, card_ttl_days=1)
    entries = store.list(count=count, service=service)
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(entry, sort_keys=True))
        return
    if not entries:
        typer.echo("no feedback")
        return
    for e in entries:
        extra = e.get("acceptedSuggestions") or e.get("overrideReason") or ""
        known = "" if e.get("knownCard") == "true" else " (unknown card)"
        typer.echo(f"{e['outcomeTimestamp']}  {e['service']:<26} {e['outcome']:<10} card={e['card']}{known}  {extra}")
