"""What the synthetic cohort contains: showcase patients with actionable genotypes, then seeded random ones.

The design is pure data (no I/O): :func:`plan_cohort` turns a size and a seed into one
:class:`PatientPlan` per patient; ``cohort.py`` renders the plans as FHIR Bundles and VCFs. The
same seed always gives the same plans, so the rendered files are byte-identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

GenomicsKind = Literal["vcf", "observations"]

# Every date in the cohort is relative to this fixed day, so a seed always yields the same bytes.
AS_OF = date(2026, 11, 1)

# The baseline (normal function) diplotype of each gene the cohort plants; allele names are the
# definition files' names, which is how the pgx knowledge base names them too.
BASELINE: dict[str, tuple[str, str]] = {
    "CYP2C19": ("*1", "*1"),
    "CYP2C9": ("*1", "*1"),
    "SLCO1B1": ("*1", "*1"),
    "DPYD": ("Reference", "Reference"),
    "TPMT": ("*1", "*1"),
    "NUDT15": ("*1", "*1"),
    "VKORC1": ("rs9923231 reference (C)", "rs9923231 reference (C)"),
    "CYP4F2": ("*1", "*1"),
    # *3/*3 (non-expresser) is the usual genotype and means standard tacrolimus dosing; the reference
    # sequence (*1/*1, expresser) would ask for a higher dose.
    "CYP3A5": ("*3", "*3"),
}

# Allele pools (name, weight) for the random patients; rare actionable alleles keep them varied.
_POOLS: dict[str, tuple[tuple[str, float], ...]] = {
    "CYP2C19": (("*1", 0.60), ("*2", 0.15), ("*17", 0.20), ("*3", 0.05)),
    "CYP2C9": (("*1", 0.85), ("*2", 0.10), ("*3", 0.05)),
    "SLCO1B1": (("*1", 0.82), ("*5", 0.06), ("*15", 0.12)),
    "DPYD": (("Reference", 0.98), ("c.1905+1G>A (*2A)", 0.02)),
    "TPMT": (("*1", 0.95), ("*3A", 0.04), ("*3C", 0.01)),
    "NUDT15": (("*1", 1.0),),
    "VKORC1": (("rs9923231 reference (C)", 0.6), ("rs9923231 variant (T)", 0.4)),
    "CYP4F2": (("*1", 0.7), ("*3", 0.3)),
    "CYP3A5": (("*3", 0.85), ("*1", 0.15)),
}


@dataclass(frozen=True)
class Showcase:
    """A patient planted with a known genotype, and what the demo expects for it."""

    label: str
    kind: GenomicsKind
    gene: str | None = None
    diplotype: tuple[str, str] | None = None
    phenotype: str | None = None
    drug: str | None = None


SHOWCASES: tuple[Showcase, ...] = (
    Showcase("CYP2C19 poor metabolizer", "vcf", "CYP2C19", ("*2", "*2"), "Poor Metabolizer", "clopidogrel"),
    Showcase("SLCO1B1 decreased function", "vcf", "SLCO1B1", ("*1", "*5"), "Decreased Function", "simvastatin"),
    Showcase(
        "DPYD intermediate metabolizer",
        "vcf",
        "DPYD",
        ("Reference", "c.1905+1G>A (*2A)"),
        "Intermediate Metabolizer",
        "capecitabine",
    ),
    Showcase("TPMT poor metabolizer", "vcf", "TPMT", ("*3A", "*3A"), "Poor Metabolizer", "azathioprine"),
    Showcase("CYP2C9 poor metabolizer", "vcf", "CYP2C9", ("*3", "*3"), "Poor Metabolizer", "warfarin"),
    Showcase(
        "CYP2C19 poor metabolizer (reported genotype)",
        "observations",
        "CYP2C19",
        ("*2", "*2"),
        "Poor Metabolizer",
        "clopidogrel",
    ),
    Showcase("no actionable variant (VCF)", "vcf"),
    Showcase("no actionable variant (reported genotypes)", "observations"),
)

MIN_PATIENTS = len(SHOWCASES)

_GIVEN = {
    "female": ("Ada", "Bea", "Cleo", "Dora", "Edda", "Fay", "Greta", "Hana", "Ines", "Juno", "Kaia", "Lena"),
    "male": ("Arno", "Bram", "Cyril", "Dag", "Emil", "Finn", "Gus", "Hugo", "Ivo", "Jens", "Kai", "Leif"),
}
_FAMILY = ("Testa", "Probe", "Sample", "Mock", "Demo", "Synth", "Fictus", "Placebo", "Model", "Twin")
_RACES = (("white", 0.6), ("black", 0.2), ("other", 0.2))
_SMOKING = (("never", 0.55), ("former", 0.25), ("current", 0.2))


@dataclass(frozen=True)
class Lab:
    """One coded measurement: LOINC code, value, UCUM unit, category and days before AS_OF."""

    code: str
    display: str
    value: float
    unit: str
    category: Literal["laboratory", "vital-signs"]
    days_ago: int


@dataclass(frozen=True)
class Medication:
    """An active prescription (RxNorm clinical drug)."""

    rxcui: str
    display: str


@dataclass(frozen=True)
class Clinical:
    """Demographics, history and measurements of one synthetic patient."""

    given: str
    family: str
    sex: Literal["female", "male"]
    birth_date: date
    race: str
    smoking: str
    diabetes: bool
    hypertension: bool
    labs: tuple[Lab, ...]
    blood_pressure: tuple[float, float]
    medications: tuple[Medication, ...]


@dataclass(frozen=True)
class PatientPlan:
    """Everything one synthetic patient will contain."""

    index: int
    id: str
    kind: GenomicsKind
    diplotypes: dict[str, tuple[str, str]]
    clinical: Clinical
    showcase: Showcase | None = None
    notes: list[str] = field(default_factory=list)


def patient_id(index: int) -> str:
    """The FHIR id of the ``index``-th demo patient."""
    return f"twinrx-demo-{index + 1:03d}"


def plan_cohort(n_patients: int, seed: int) -> list[PatientPlan]:
    """Plans for ``n_patients`` patients: the showcases first, then random ones drawn with ``seed``."""
    if n_patients < MIN_PATIENTS:
        raise ValueError(f"the demo cohort needs at least {MIN_PATIENTS} patients (one per showcase)")
    rng = random.Random(seed)
    plans: list[PatientPlan] = []
    for index in range(n_patients):
        clinical = _clinical(rng)
        if index < len(SHOWCASES):
            show = SHOWCASES[index]
            diplotypes = dict(BASELINE)
            if show.gene and show.diplotype:
                diplotypes[show.gene] = show.diplotype
            plans.append(PatientPlan(index, patient_id(index), show.kind, diplotypes, clinical, show))
            continue
        diplotypes = {gene: (_pick(rng, pool), _pick(rng, pool)) for gene, pool in _POOLS.items()}
        kind: GenomicsKind = "observations" if index % 3 == 0 else "vcf"
        plans.append(PatientPlan(index, patient_id(index), kind, diplotypes, clinical))
    return plans


def _pick(rng: random.Random, pool: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in pool]
    weights = [weight for _, weight in pool]
    return rng.choices(names, weights=weights, k=1)[0]


def _clinical(rng: random.Random) -> Clinical:
    sex: Literal["female", "male"] = "female" if rng.random() < 0.5 else "male"
    age_days = rng.randint(38 * 365, 79 * 365)
    diabetes = rng.random() < 0.25
    hypertension = rng.random() < 0.4
    smoking = _pick(rng, _SMOKING)
    race = _pick(rng, _RACES)
    systolic = round(rng.uniform(132, 168) if hypertension else rng.uniform(104, 138))
    diastolic = round(systolic * rng.uniform(0.58, 0.68))
    height = round(rng.uniform(152, 176) if sex == "female" else rng.uniform(163, 192), 1)
    bmi = round(rng.uniform(21, 37), 1)
    weight = round(bmi * (height / 100) ** 2, 1)

    def lab(code: str, display: str, value: float, unit: str, vital: bool = False) -> Lab:
        category: Literal["laboratory", "vital-signs"] = "vital-signs" if vital else "laboratory"
        return Lab(code, display, value, unit, category, rng.randint(3, 150))

    labs = (
        lab("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", round(rng.uniform(150, 280)), "mg/dL"),
        lab("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", round(rng.uniform(32, 82)), "mg/dL"),
        lab(
            "4548-4",
            "Hemoglobin A1c/Hemoglobin.total in Blood",
            round(rng.uniform(6.6, 9.2) if diabetes else rng.uniform(4.8, 6.2), 1),
            "%",
        ),
        lab(
            "98979-8",
            "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
            "Creatinine-based formula (CKD-EPI 2021)",
            round(rng.uniform(48, 112)),
            "mL/min/{1.73_m2}",
        ),
        lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", round(rng.uniform(0.6, 1.4), 2), "mg/dL"),
        lab("1751-7", "Albumin [Mass/volume] in Serum or Plasma", round(rng.uniform(3.6, 5.0), 1), "g/dL"),
        lab("2345-7", "Glucose [Mass/volume] in Serum or Plasma", round(rng.uniform(75, 180)), "mg/dL"),
        lab(
            "30522-7",
            "C reactive protein [Mass/volume] in Serum or Plasma by High sensitivity method",
            round(rng.uniform(0.3, 8.0), 1),
            "mg/L",
        ),
        lab("736-9", "Lymphocytes/100 leukocytes in Blood by Automated count", round(rng.uniform(18, 42), 1), "%"),
        lab("787-2", "MCV [Entitic volume] by Automated count", round(rng.uniform(82, 98), 1), "fL"),
        lab(
            "788-0", "Erythrocyte distribution width [Ratio] by Automated count", round(rng.uniform(11.5, 15.5), 1), "%"
        ),
        lab(
            "6768-6",
            "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
            round(rng.uniform(40, 125)),
            "U/L",
        ),
        lab("6690-2", "Leukocytes [#/volume] in Blood by Automated count", round(rng.uniform(4.0, 10.5), 1), "10*3/uL"),
        lab("9318-7", "Albumin/Creatinine [Mass Ratio] in Urine", round(rng.uniform(4, 90)), "mg/g"),
        lab("39156-5", "Body mass index (BMI) [Ratio]", bmi, "kg/m2", vital=True),
        lab("29463-7", "Body weight", weight, "kg", vital=True),
        lab("8302-2", "Body height", height, "cm", vital=True),
        lab(
            "8280-0",
            "Waist Circumference at umbilicus by Tape measure",
            round(bmi * rng.uniform(2.9, 3.4), 1),
            "cm",
            vital=True,
        ),
    )
    medications: list[Medication] = []
    if hypertension:
        medications.append(
            Medication("314076", "Lisinopril 10 MG Oral Tablet")
            if rng.random() < 0.6
            else Medication("197361", "Amlodipine 5 MG Oral Tablet")
        )
    if diabetes:
        medications.append(Medication("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"))
    if rng.random() < 0.3:
        medications.append(Medication("617310", "atorvastatin 20 MG Oral Tablet"))
    return Clinical(
        given=rng.choice(_GIVEN[sex]),
        family=rng.choice(_FAMILY),
        sex=sex,
        birth_date=AS_OF - timedelta(days=age_days),
        race=race,
        smoking=smoking,
        diabetes=diabetes,
        hypertension=hypertension,
        labs=labs,
        blood_pressure=(float(systolic), float(diastolic)),
        medications=tuple(medications),
    )
