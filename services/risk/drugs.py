"""Drug classes the risk equations need: antihypertensive treatment and statin use.

The table (``data/rxnorm_classes.json``) lists RxNorm ingredient RXCUIs with their WHO ATC codes
(antihypertensives: ATC C02, C03, C07, C08, C09; statins: C10AA). A medication matches a class by its
ingredient RXCUI, or, for clinical-drug codes, by an ingredient name as a whole word in its display.

>>> sorted(drug_classes("83367", None)), sorted(drug_classes(None, "amlodipine 5 MG / atorvastatin 10 MG Oral Tablet"))
(['statin'], ['antihypertensive', 'statin'])
>>> drug_classes(None, "aspirin 81 MG Oral Tablet")
frozenset()
"""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

__all__ = ["DrugClass", "drug_classes"]

DrugClass = Literal["statin", "antihypertensive"]


@cache
def _table() -> tuple[dict[str, DrugClass], list[tuple[re.Pattern[str], DrugClass]]]:
    text = resources.files("services.risk").joinpath("data", "rxnorm_classes.json").read_text(encoding="utf-8")
    by_code: dict[str, DrugClass] = {}
    by_name: list[tuple[re.Pattern[str], DrugClass]] = []
    for cls, spec in json.loads(text)["classes"].items():
        for code, (name, _atc) in spec["ingredients"].items():
            by_code[code] = cls
            by_name.append((re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE), cls))
    return by_code, by_name


# Memoised: a population repeats the same few hundred prescriptions, and matching a display tries every
# ingredient's pattern (a tenth of a bulk ingest's risk time). The result is an immutable frozenset.
@lru_cache(maxsize=4096)
def drug_classes(rxnorm: str | None, display: str | None) -> frozenset[DrugClass]:
    """The classes of a medication from its RxNorm ingredient code and/or display text (combinations: several)."""
    by_code, by_name = _table()
    found: set[DrugClass] = set()
    if rxnorm and rxnorm in by_code:
        found.add(by_code[rxnorm])
    if display:
        found.update(cls for pattern, cls in by_name if pattern.search(display))
    return frozenset(found)
