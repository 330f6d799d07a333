"""Curated facts and rules the kb build applies to the guideline files.

1. ``INGREDIENT_RXCUI``: RxNorm ingredient concepts (TTY=IN) by lower-case name. Source: RxNorm, U.S.
   National Library of Medicine (RxNav, https://mor.nlm.nih.gov/RxNav/); every code that CPIC's own drug
   table also lists (cpicpgx/cpic-schema ``drug.sql``, ``RxNorm:<id>`` drug ids) was checked against it.
   Only codes we are sure of are listed; a drug missing here resolves by name and carries
   ``rxnorm = None`` rather than a guess.
2. ``classify``: turns a recommendation's text into an action (avoid, use-alternative, reduce-dose with a
   percent, standard ...). The rules read the *first sentence* for the primary action; later sentences only
   add a dose change or alternatives. Anything the rules cannot place is ``see-guideline`` (the card then
   shows the guideline wording and link; never a made-up action).
3. ``find_alternatives``: drugs a recommendation names as alternatives, from curated phrases only.
"""

from __future__ import annotations

import re
from typing import Any

# RxNorm ingredient RxCUIs (TTY=IN), from RxNorm/RxNav.
INGREDIENT_RXCUI: dict[str, str] = {
    "abacavir": "190521",
    "acenocoumarol": "154",
    "allopurinol": "519",
    "amikacin": "641",
    "amitriptyline": "704",
    "amphotericin b": "732",
    "aripiprazole": "89013",
    "atazanavir": "343047",
    "atomoxetine": "38400",
    "atorvastatin": "83367",
    "azathioprine": "1256",
    "brexpiprazole": "1658314",
    "capecitabine": "194000",
    "carbamazepine": "2002",
    "celecoxib": "140587",
    "citalopram": "2556",
    "clomipramine": "2597",
    "clopidogrel": "32968",
    "codeine": "2670",
    "dapsone": "3108",
    "desflurane": "27340",
    "desipramine": "3247",
    "dexlansoprazole": "816346",
    "doxepin": "3638",
    "efavirenz": "195085",
    "eliglustat": "1547220",
    "escitalopram": "321988",
    "flecainide": "4441",
    "fluorouracil": "4492",
    "flurbiprofen": "4502",
    "fluvastatin": "41127",
    "fluvoxamine": "42355",
    "fosphenytoin": "72236",
    "gentamicin": "4413",
    "granisetron": "26237",
    "haloperidol": "5093",
    "hydrocodone": "5489",
    "ibuprofen": "5640",
    "imipramine": "5691",
    "irinotecan": "51499",
    "isoflurane": "6026",
    "ivacaftor": "1243041",
    "lamotrigine": "28439",
    "lansoprazole": "17128",
    "lovastatin": "6472",
    "meloxicam": "41493",
    "mercaptopurine": "103",
    "methylene blue": "6878",
    "metoprolol": "6918",
    "nitrofurantoin": "7454",
    "nortriptyline": "7531",
    "omeprazole": "7646",
    "ondansetron": "26225",
    "oxcarbazepine": "32624",
    "pantoprazole": "40790",
    "paroxetine": "32937",
    "peginterferon alfa-2a": "120608",
    "peginterferon alfa-2b": "253453",
    "pegloticase": "1011650",
    "phenprocoumon": "8150",
    "phenytoin": "8183",
    "pimozide": "8331",
    "piroxicam": "8356",
    "pitavastatin": "861634",
    "posaconazole": "282446",
    "prasugrel": "613391",
    "pravastatin": "42463",
    "primaquine": "8687",
    "propafenone": "8754",
    "rasburicase": "283821",
    "ribavirin": "9344",
    "risperidone": "35636",
    "rosuvastatin": "301542",
    "sertraline": "36437",
    "sevoflurane": "36453",
    "simvastatin": "36567",
    "streptomycin": "10109",
    "succinylcholine": "10154",
    "tacrolimus": "42316",
    "tamoxifen": "10324",
    "tegafur": "4582",
    "thioguanine": "10485",
    "ticagrelor": "1116632",
    "tobramycin": "10627",
    "tramadol": "10689",
    "trimipramine": "10834",
    "tropisetron": "27392",
    "venlafaxine": "39786",
    "voriconazole": "121243",
    "vortioxetine": "1455099",
    "warfarin": "11289",
    "zuclopenthixol": "114176",
}

_NONE_TEXT = re.compile(r"^(n/a|no recommendation\b|the guideline does not provide a recommendation)")
_TESTING = re.compile(
    r"^(to ascertain|if deemed necessary to ascertain|\w+ phenotype could not be assigned|neither tpmt"
    r"|no \w+ genotype is available|clinical findings, family history)"
)
_NEGATED = re.compile(
    r"no need to avoid|no reason to avoid|avoid moderate and strong cyp2d6 inhibitors"
    r"|alternative agents are not (?:considered|available)[^.]*"
)
_AVOID = re.compile(
    r"\bavoid\b|not recommended|contra-?indicated|do not use|should not be used|not be used|discontinue"
)
_ALTERNATIVE = re.compile(
    r"alternative|prasugrel|ticagrelor|aromatase inhibitor|granisetron|isavuconazole|posaconazole"
    r"|not (?:predominantly |primarily )?metabolized by"
)
_STANDARD = re.compile(
    r"standard dos|standard starting|standard recommended dose|standard of care dosing|at standard doses?\b"
    r"|recommended starting dose\.?$|recommended starting dose\b(?! and)|per standard|label[- ]recommended"
    r"|according to the product label|no indication to change|desired starting dose|normal starting dose"
    r"|no action is (?:required|needed)|no action recommended|no adjustments needed|no need to avoid|no reason to avoid"
)
_REDUCE = re.compile(
    r"reduc(?:e|ed|tion)|lower starting dose|lower maintenance dose|decreased dose|≤\s?\d+\s?mg|limit dose"
    r"|\d+%(?:-\d+%)? of (?:the )?(?:lowest |standard |normal |recommended )*"
    r"(?:initial |starting |maximum |maintenance )?dose"
    r"|half (?:of )?the (?:normal |standard )?dose"
    r"|\d+% less than|lowest recommended starting dose|\d+-\d+% lower"
)
_INCREASE = re.compile(r"^(?:consider )?increas(?:e|ing) (?:the )?(?:starting )?(?:daily )?dose")
_HIGHER = re.compile(r"increas\w* (?:the )?dose|higher (?:maintenance|target) dose")
_CAUTION = re.compile(r"caution")
_MONITOR = re.compile(r"monitor")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;])\s+", text) if s.strip()]


def dose_percent(text: str) -> int | None:
    """A single signed dose change from the text, or None when it gives a range or none.

    >>> dose_percent("Reduce starting dose by 50% followed by titration")
    -50
    >>> dose_percent("use 65% of the standard initial dose")
    -35
    >>> dose_percent("start with reduced starting doses (30%-80% of normal dose)") is None
    True
    """
    t = text.lower()
    if re.search(r"\d+\s?%?\s?(?:-|–|to)\s?\d+\s?%", t):
        return None
    if m := re.search(r"(?:reduce|decrease)\w* (?:the )?(?:starting |daily |initial )*doses? by (\d+)\s?%", t):
        return -int(m.group(1))
    if m := re.search(r"(\d+)\s?% reduction", t):
        return -int(m.group(1))
    if m := re.search(r"approximately (\d+)\s?% less", t):
        return -int(m.group(1))
    if m := re.search(r"(?:use|initiate|initiate therapy with|to) (\d+)\s?% of (?:the )?", t):
        return int(m.group(1)) - 100
    if m := re.search(r"increase (?:starting )?(?:daily )?dose by (\d+)\s?%", t):
        return int(m.group(1))
    if re.search(r"\bhalf (?:of )?the (?:normal |standard )?dose", t):
        return -50
    if "10-fold" in t:
        return -90
    return None


def classify(text: str, strength: str | None) -> dict[str, Any]:
    """Structured facts for one recommendation text: ``action``, ``dose_change_percent``, ``kind``.

    ``kind`` is ``actionable``, ``standard`` or ``no-recommendation`` (what the text says, before any
    patient is matched).
    """
    t = text.lower().strip()
    if not t or _NONE_TEXT.match(t) or strength == "No recommendation":
        return {"action": "none", "dose_change_percent": None, "kind": "no-recommendation"}
    if _TESTING.match(t):
        return {"action": "consider-testing", "dose_change_percent": None, "kind": "actionable"}
    if re.match(r"^(?:there is )?no (?:need|reason) to avoid", t):
        return {"action": "standard", "dose_change_percent": None, "kind": "standard"}
    clean = _NEGATED.sub("", t)
    sentences = [x for x in _sentences(clean) if re.search(r"[a-z]", x)]
    first = sentences[0] if sentences else clean
    rest = " ".join(sentences[1:])
    action: str
    if _AVOID.search(first):
        action = "use-alternative" if _ALTERNATIVE.search(clean) else "avoid"
    elif _ALTERNATIVE.search(first) and not _REDUCE.search(first):
        action = "use-alternative"
    elif _STANDARD.search(first) and not _REDUCE.search(first) and not _INCREASE.search(first):
        action = "adjust-dose" if (_REDUCE.search(rest) or _HIGHER.search(rest)) else "standard"
        if action == "standard" and _CAUTION.search(first):
            action = "use-with-caution"
    elif _REDUCE.search(first) or re.match(r"(?:initiate|start) (?:therapy )?(?:with |at )?\d+%", first):
        action = "reduce-dose"
    elif _ALTERNATIVE.search(first):
        action = "use-alternative"
    elif _INCREASE.search(first):
        action = "increase-dose"
    elif (
        len(sentences) > 1
        and sentences[1].startswith(("for subsequent doses", "for the other doses"))
        and _REDUCE.search(sentences[1])
    ):
        action = "reduce-dose"
    elif _CAUTION.search(first):
        action = "use-with-caution"
    elif _MONITOR.search(first):
        action = "monitor"
    else:
        action = "see-guideline"
    pct = dose_percent(clean) if action in ("reduce-dose", "increase-dose") else None
    if action == "reduce-dose" and pct is not None and pct > 0:
        pct = None
    kind = "standard" if action == "standard" else "actionable"
    return {"action": action, "dose_change_percent": pct, "kind": kind}


# Alternatives are taken only from phrases a curator has read, never by spotting drug names in free text
# (texts also name drugs that are "not an alternative"). Each entry: phrase pattern -> ingredient names.
_ALTERNATIVE_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # CPIC clopidogrel/CYP2C19 2022 (PMID 35034351)
    (r"use prasugrel or ticagrelor", ("prasugrel", "ticagrelor")),
    # CPIC voriconazole/CYP2C19 (PMID 27981572)
    (
        r"such agents include isavuconazole, liposomal amphotericin b,? and posaconazole",
        ("isavuconazole", "amphotericin b", "posaconazole"),
    ),
    (r"such agents include liposomal amphotericin b and posaconazole", ("amphotericin b", "posaconazole")),
    # CPIC ondansetron/tropisetron/CYP2D6 (PMID 28002639)
    (r"not predominantly metabolized by cyp2d6 \(i\.e\., granisetron\)", ("granisetron",)),
    # CPIC tricyclics/CYP2C19 (PMID 27997040)
    (r"secondary amines nortriptyline and desipramine", ("nortriptyline", "desipramine")),
    # CPIC statins/SLCO1B1 (PMID 35152405): atorvastatin above 20/40 mg
    (r"consider rosuvastatin or combination therapy", ("rosuvastatin",)),
)


def find_alternatives(text: str, drugs: list[str]) -> list[str]:
    """Drugs the recommendation names as alternatives to ``drugs`` (curated phrases only).

    >>> find_alternatives("Avoid clopidogrel. Use prasugrel or ticagrelor at standard dose.", ["clopidogrel"])
    ['prasugrel', 'ticagrelor']
    >>> find_alternatives("Carbamazepine ... is therefore not an alternative.", ["lamotrigine"])
    []
    """
    t = re.sub(r"\s+", " ", text.lower())
    found: list[str] = []
    for pattern, names in _ALTERNATIVE_PHRASES:
        if re.search(pattern, t):
            found.extend(n for n in names if n not in drugs and n not in found)
    return found
