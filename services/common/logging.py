"""structlog JSON logging that never carries PHI.

Log events name *what happened* and carry correlation ids (``hookInstance``, task id, a
hashed patient key) but never names, birth dates, identifiers, tokens or genotypes. The
``scrub_phi`` processor drops any key on the deny-list as a second line of defence.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

_PHI_KEYS = frozenset(
    {
        "name",
        "given",
        "family",
        "birthdate",
        "birth_date",
        "birthDate",
        "address",
        "telecom",
        "phone",
        "email",
        "mrn",
        "identifier",
        "ssn",
        "genotype",
        "diplotype",
        "diplotypes",
        "access_token",
        "token",
        "authorization",
        "password",
        "secret",
        "patient_id",
        "patientId",
    }
)


# Third-party loggers whose INFO/DEBUG lines are plain text carrying the request URL (Patient/<id>,
# ?patient=<id>): PHI. Held at WARNING in every process.
_URL_LOGGERS: Final = ("httpx", "httpcore", "urllib3")


def patient_ref(server: str, patient_id: str) -> str:
    """A stable, non-reversible tag for a patient, safe to log (12 hex chars of a SHA-256)."""
    return hashlib.sha256(f"{server}|{patient_id}".encode()).hexdigest()[:12]


def scrub_phi(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop any log field whose name marks it as PHI or a secret."""
    for key in list(event_dict):
        if key in _PHI_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Configure structlog (and the stdlib root logger) once per process; logs go to stderr."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=getattr(logging, level))
    for name in _URL_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub_phi,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A bound structlog logger named after its module."""
    return structlog.get_logger(name)
