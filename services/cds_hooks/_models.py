"""Wire models of CDS Hooks 2.0.1: requests (liberal: extra fields allowed) and responses (strict).

Response models are serialised with ``exclude_none`` so optional fields are omitted, never
``null``; optional lists default to ``None`` so they are never sent empty.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests -----------------------------------------------------------------------------------


class FhirAuthorization(_Lenient):
    """The OAuth 2.0 access token a client lends the service for this one call (never logged)."""

    access_token: str = Field(min_length=1)
    token_type: str = "Bearer"
    expires_in: int | None = None
    scope: str | None = None
    subject: str | None = None
    patient: str | None = None


class HookRequest(_Lenient):
    """A CDS Hooks service call."""

    hook: str = Field(min_length=1, max_length=100)
    hookInstance: str = Field(min_length=1, max_length=200)
    fhirServer: str | None = Field(None, max_length=2000)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None


class Coding(_Strict):
    """CDS Hooks' trimmed Coding: code and system required, display conditional."""

    code: str
    system: str
    display: str | None = None


class OverrideReason(_Lenient):
    reason: Coding | None = None
    userComment: str | None = None


class AcceptedSuggestion(_Lenient):
    id: str = Field(min_length=1)


class FeedbackItem(_Lenient):
    """One card outcome reported by the client."""

    card: str = Field(min_length=1, max_length=200)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: dict[str, Any] | None = None
    outcomeTimestamp: str = Field(min_length=1, max_length=64)


class FeedbackRequest(_Lenient):
    feedback: list[FeedbackItem] = Field(min_length=1, max_length=500)


# --- responses ----------------------------------------------------------------------------------


class Source(_Strict):
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Strict):
    type: Literal["create", "update", "delete"]
    description: str
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(_Strict):
    label: str
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: list[Action] | None = None


class Link(_Strict):
    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


Indicator = Literal["info", "warning", "critical"]


class Card(_Strict):
    uuid: str | None = None
    summary: str = Field(max_length=139)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: list[Coding] | None = None
    links: list[Link] | None = None


class CardsResponse(_Strict):
    cards: list[Card]


class ServiceDescription(_Strict):
    hook: str
    id: str
    title: str
    description: str
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None


class DiscoveryResponse(_Strict):
    services: list[ServiceDescription]


def dump(model: BaseModel) -> dict[str, Any]:
    """A response body with optional fields omitted."""
    return model.model_dump(mode="json", exclude_none=True)
