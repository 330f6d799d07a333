"""The memoized engine seam returns exactly what the real pgx functions return."""

from __future__ import annotations

from services.cds_hooks._engines import load_engines, memoized
from services.pgx import recommend, resolve_drug

from .conftest import gene


def test_memoized_recommend_equals_the_real_function_and_keys_on_provenance() -> None:
    cached = memoized(load_engines())
    assert cached.recommend is not None and cached.resolve_drug is not None
    profiles = [
        {"CYP2C19": gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="a")},
        {"CYP2C19": gene("CYP2C19", "*2/*2", "Poor Metabolizer", obs="b")},
        {"CYP2C19": gene("CYP2C19", "*1/*1", "Normal Metabolizer", obs="a")},
        {"SLCO1B1": gene("SLCO1B1", "*5/*5", "Poor Function")},
        {},
    ]
    for query in ("213169", "clopidogrel", "simvastatin 40 MG Oral Tablet", "amoxicillin", "617993"):
        assert cached.resolve_drug(query) == resolve_drug(query)
        for profile in profiles:
            for _ in range(2):  # second call answered from the memo
                assert cached.recommend(query, profile) == recommend(query, profile), (query, profile)
    first = cached.recommend("213169", profiles[0]).recommendations[0].gene_results[0].source
    second = cached.recommend("213169", profiles[1]).recommendations[0].gene_results[0].source
    assert first is not None and second is not None and (first.id, second.id) == ("a", "b")
