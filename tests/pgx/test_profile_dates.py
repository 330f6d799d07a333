"""Conflicting outside calls are ordered by date whatever mix of dated, undated and naive dates they carry."""

from __future__ import annotations

from datetime import UTC, datetime

from services.common.twin import GenotypeInput, SourceRef
from services.pgx import profile


def _call(diplotype: str, obs_id: str, when: datetime | None) -> GenotypeInput:
    return GenotypeInput(
        kind="diplotype",
        gene="CYP2C19",
        diplotype=diplotype,
        source=SourceRef(resource_type="Observation", id=obs_id, date=when),
    )


def test_newest_call_wins_across_aware_naive_and_undated() -> None:
    inputs = [
        _call("*1/*1", "old-aware", datetime(2020, 1, 1, tzinfo=UTC)),
        _call("*1/*17", "undated", None),
        _call("*2/*2", "new-naive", datetime(2024, 6, 1)),
    ]
    result = profile(inputs)["CYP2C19"]
    assert result.diplotypes == ["*2/*2"]
    assert result.phenotype == "Poor Metabolizer"
    assert result.source is not None and result.source.id == "new-naive"
