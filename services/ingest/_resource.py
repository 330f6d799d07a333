"""Small, typed accessors for plain-dict FHIR R4 resources (parsed with orjson, never validated).

Every accessor tolerates absent elements and raises :class:`MalformedResource` only when an element
is present but of the wrong shape, so a broken resource is reported and skipped, never guessed at.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from services.common.twin import SourceRef

from .errors import MalformedResource

Resource = dict[str, Any]
# Where an error is: a reference string, or the resource itself (its reference is built only on error).
Where = str | dict[str, Any]


def _where(where: Where) -> str:
    return where if isinstance(where, str) else reference_of(where)


def reference_of(resource: Resource) -> str:
    """``Type/id`` of a resource, or a placeholder naming what is missing."""
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    return f"{rtype if isinstance(rtype, str) else '?'}/{rid if isinstance(rid, str) else '?'}"


def check_identity(resource: object) -> Resource:
    """``resource`` as a dict with a string ``resourceType`` and ``id``; raises MalformedResource otherwise."""
    if not isinstance(resource, dict):
        raise MalformedResource("?/?", "not a JSON object")
    rtype = resource.get("resourceType")
    rid = resource.get("id")
    if not isinstance(rtype, str) or not rtype:
        raise MalformedResource(reference_of(resource), "resourceType missing")
    if not isinstance(rid, str) or not rid:
        raise MalformedResource(reference_of(resource), "id missing")
    return resource


def _meta_text(resource: Resource, element: str) -> str | None:
    """A string element of ``meta`` as sent, or None when absent or not a string."""
    meta = resource.get("meta")
    value = meta.get(element) if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def version_of(resource: Resource) -> str | None:
    """``meta.versionId`` when present."""
    return _meta_text(resource, "versionId")


def last_updated(resource: Resource) -> str | None:
    """``meta.lastUpdated`` as sent."""
    return _meta_text(resource, "lastUpdated")


def parse_datetime(value: object, *, where: Where, element: str) -> datetime | None:
    """A FHIR date/dateTime/instant as an aware datetime (partial dates fill with the first day, UTC)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedResource(_where(where), f"{element} is not a date")
    try:
        return _parse_text(value)
    except ValueError as exc:
        raise MalformedResource(_where(where), f"{element} is not a valid date") from exc


@functools.lru_cache(maxsize=8192)
def _parse_text(value: str) -> datetime:
    """Memoised: the values of one encounter share their timestamps (datetimes are immutable)."""
    text = value.replace("Z", "+00:00")
    if len(text) == 4:
        return datetime(int(text), 1, 1, tzinfo=UTC)
    if len(text) == 7:
        return datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC)
    if len(text) == 10:
        parsed = date.fromisoformat(text)
        return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)
    parsed_dt = datetime.fromisoformat(text)
    return parsed_dt if parsed_dt.tzinfo else parsed_dt.replace(tzinfo=UTC)


def effective_time(resource: Resource) -> datetime | None:
    """When a clinical value holds: effective[x], issued, recordedDate or authoredOn."""
    where: Where = resource
    for element in ("effectiveDateTime", "effectiveInstant", "issued", "recordedDate", "authoredOn", "date"):
        if element in resource:
            return parse_datetime(resource[element], where=where, element=element)
    period = resource.get("effectivePeriod")
    if isinstance(period, dict):
        return parse_datetime(period.get("start") or period.get("end"), where=where, element="effectivePeriod")
    return None


def source_ref(resource: Resource, *, when: datetime | None = None) -> SourceRef:
    """The SourceRef of a resource (type/id/version and the value's time)."""
    return SourceRef(resource_type=resource["resourceType"], id=resource["id"], version=version_of(resource), date=when)


def codings(concept: object, *, where: Where, element: str) -> Iterator[tuple[str, str, str | None]]:
    """``(system, code, display)`` of each coding in a CodeableConcept (codings without a code are ignored)."""
    if concept is None:
        return
    if not isinstance(concept, dict):
        raise MalformedResource(_where(where), f"{element} is not a CodeableConcept")
    raw = concept.get("coding", [])
    if not isinstance(raw, list):
        raise MalformedResource(_where(where), f"{element}.coding is not a list")
    for coding in raw:
        if not isinstance(coding, dict):
            raise MalformedResource(_where(where), f"{element}.coding has a non-object entry")
        code = coding.get("code")
        if isinstance(code, str) and code:
            system = coding.get("system")
            display = coding.get("display")
            yield (
                system if isinstance(system, str) else "",
                code,
                display if isinstance(display, str) else None,
            )


def concept_text(concept: object) -> str | None:
    """``CodeableConcept.text``, else the first coding's display."""
    if not isinstance(concept, dict):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    for coding in concept.get("coding", []) or []:
        if isinstance(coding, dict) and isinstance(coding.get("display"), str):
            return str(coding["display"]).strip()
    return None


def has_code(concept: object, codes: frozenset[str] | set[str], *, where: Where, element: str = "code") -> bool:
    """True if any coding's code is in ``codes``."""
    return any(code in codes for _, code, _ in codings(concept, where=where, element=element))


def status_code(concept: object) -> str | None:
    """The first code of a status CodeableConcept (clinicalStatus, verificationStatus)."""
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding", []) or []:
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def quantity(value: object, *, where: Where, element: str) -> tuple[float, str] | None:
    """``(value, unit)`` of a Quantity; the UCUM ``code`` is preferred over the display ``unit``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedResource(_where(where), f"{element} is not a Quantity")
    number = value.get("value")
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise MalformedResource(_where(where), f"{element}.value is not a number")
    unit = value.get("code") or value.get("unit") or ""
    if not isinstance(unit, str):
        raise MalformedResource(_where(where), f"{element}.unit is not a string")
    return float(number), unit


def reference_target(value: object) -> str | None:
    """``Reference.reference`` when it is a string."""
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return ref
    return None
