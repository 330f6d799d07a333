"""The main job end to end on a small synthetic cohort, with every part real.

Real Redis (database 4), a real ``twinrx worker`` subprocess (Celery, prefork), the real ``twinrx serve``
API on 127.0.0.1 over real HTTP with signed ES384 JWTs. One run serves every assertion below; the
cohort is the eight showcase patients (one per planted genotype plus two without actionable variants).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.demo import DemoOptions, DemoResult, IngestTimeout, run_demo
from services.demo._design import SHOWCASES
from services.demo._processes import wait_until

from .conftest import quiet_console

pytestmark = pytest.mark.integration

SEED = 42
PATIENTS = len(SHOWCASES)


@pytest.fixture(scope="module")
def run(e2e_redis_url: str, e2e_server: str, tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    out = tmp_path_factory.mktemp("demo-report")
    return run_demo(
        DemoOptions(
            patients=PATIENTS,
            seed=SEED,
            out=out,
            redis_url=e2e_redis_url,
            server=e2e_server,
            console=quiet_console(),
        )
    )


def _pid(run: DemoResult, label: str) -> str:
    assert run.cohort is not None
    return next(p.id for p in run.cohort.patients if p.showcase and p.showcase.label == label)


def _text(card: dict[str, Any]) -> str:
    return f"{card['summary']}\n{card.get('detail', '')}"


def _alternatives(card: dict[str, Any]) -> set[str]:
    """Names of the drugs a card's suggestions would order instead (create actions)."""
    names = set()
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            if action.get("type") == "create":
                names.add(action["resource"]["medicationCodeableConcept"]["coding"][0]["display"])
    return names


def test_every_patient_is_ingested_into_a_twin_by_the_worker(run: DemoResult) -> None:
    assert len(run.patient_ids) == PATIENTS
    assert run.twins == run.patient_ids
    assert run.ingest.failed == 0
    assert run.ingest.statuses == {"created": PATIENTS}
    assert run.figures["twins stored"] == PATIENTS


@pytest.mark.parametrize("label", ["CYP2C19 poor metabolizer", "CYP2C19 poor metabolizer (reported genotype)"])
def test_cyp2c19_poor_metabolizer_ordering_clopidogrel_gets_a_warning_with_an_alternative(
    run: DemoResult, label: str
) -> None:
    cards = run.cards_for(_pid(run, label), "clopidogrel")
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "Clopidogrel: use an alternative (CYP2C19 Poor Metabolizer); consider prasugrel or ticagrelor"
    )
    assert re.search(r"\| CYP2C19 \| \*2/\*2 \| Poor Metabolizer \|", card["detail"])
    assert _alternatives(card) == {"prasugrel", "ticagrelor"}
    deletes = {a["resourceId"] for s in card["suggestions"] for a in s["actions"] if a["type"] == "delete"}
    assert deletes == {"MedicationRequest/draft-clopidogrel"}
    assert card["source"]["url"].startswith("https://")


def test_slco1b1_decreased_function_ordering_simvastatin(run: DemoResult) -> None:
    cards = run.cards_for(_pid(run, "SLCO1B1 decreased function"), "simvastatin")
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("warning", "Simvastatin: use an alternative (SLCO1B1 Decreased Function)")
    ]
    assert re.search(r"\| SLCO1B1 \| \*1/\*5 \| Decreased Function \|", cards[0]["detail"])
    assert "limit dose to <20mg/day" in cards[0]["detail"]
    # CPIC names no statin: twinrx offers the ones with standard dosing for this genotype, says why, and
    # pre-selects nothing: CPIC also allows simvastatin below 20 mg/day (patient 2 is ABCG2 and CYP2C9 normal,
    # and those calls are in the card's genotype table)
    assert [(s["label"], s.get("isRecommended", False)) for s in cards[0]["suggestions"]] == [
        ("Cancel the Simvastatin order", False),
        ("Replace Simvastatin with rosuvastatin (alternative derived by twinrx)", False),
        ("Replace Simvastatin with fluvastatin (alternative derived by twinrx)", False),
        ("Replace Simvastatin with pravastatin (alternative derived by twinrx)", False),
    ]
    assert re.search(r"\| CYP2C9 \| \*1/\*1 \| Normal Metabolizer \|", cards[0]["detail"])
    assert "**Alternatives derived by twinrx (the guideline names none):**" in cards[0]["detail"]
    assert "- **pravastatin**: alternative derived: standard dosing for this genotype" in cards[0]["detail"]


def test_dpyd_intermediate_metabolizer_ordering_capecitabine(run: DemoResult) -> None:
    cards = run.cards_for(_pid(run, "DPYD intermediate metabolizer"), "capecitabine")
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("warning", "Capecitabine: reduce dose by 50% (DPYD Intermediate Metabolizer)")
    ]
    assert "| DPYD | Reference/c.1905+1G>A (*2A) | Intermediate Metabolizer | 1.0 |" in cards[0]["detail"]
    (update,) = cards[0]["suggestions"]
    assert update["label"] == "Reduce Capecitabine dose by 50%" and update["isRecommended"] is True
    (dosage,) = update["actions"][0]["resource"]["dosageInstruction"]
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 500  # the demo's draft: 1000 mg twice a day


def test_tpmt_poor_metabolizer_ordering_azathioprine(run: DemoResult) -> None:
    cards = run.cards_for(_pid(run, "TPMT poor metabolizer"), "azathioprine")
    assert [(c["indicator"], c["summary"]) for c in cards] == [
        ("warning", "Azathioprine: use an alternative (NUDT15 Normal Metabolizer; TPMT Poor Metabolizer)")
    ]
    assert "| TPMT | *3A/*3A | Poor Metabolizer |" in cards[0]["detail"]


def test_cyp2c9_poor_metabolizer_ordering_warfarin(run: DemoResult) -> None:
    cards = run.cards_for(_pid(run, "CYP2C9 poor metabolizer"), "warfarin")
    assert len(cards) == 1
    assert cards[0]["indicator"] == "warning"
    assert "CYP2C9 Poor Metabolizer" in cards[0]["summary"]
    assert "| CYP2C9 | *3/*3 | Poor Metabolizer | 0.0 |" in cards[0]["detail"]


def test_the_drug_without_guidance_gets_no_card_for_anyone(run: DemoResult) -> None:
    for pid in run.patient_ids:
        assert run.cards_for(pid, "amoxicillin") == []


def test_patients_without_actionable_variants_get_no_card_for_the_gene_specific_drugs(run: DemoResult) -> None:
    for label in ("no actionable variant (VCF)", "no actionable variant (reported genotypes)"):
        pid = _pid(run, label)
        for drug in ("clopidogrel", "simvastatin", "capecitabine", "azathioprine", "amoxicillin"):
            assert run.cards_for(pid, drug) == [], (label, drug)


def test_a_showcase_drug_is_silent_for_the_other_showcases(run: DemoResult) -> None:
    # clopidogrel only warns the CYP2C19 poor metabolizers; capecitabine only the DPYD carrier
    cyp2c19 = {_pid(run, "CYP2C19 poor metabolizer"), _pid(run, "CYP2C19 poor metabolizer (reported genotype)")}
    assert {pid for pid in run.patient_ids if run.cards_for(pid, "clopidogrel")} == cyp2c19
    assert {pid for pid in run.patient_ids if run.cards_for(pid, "capecitabine")} == {
        _pid(run, "DPYD intermediate metabolizer")
    }


def test_patient_view_summarises_each_twin(run: DemoResult) -> None:
    for pid in run.patient_ids:
        cards = run.cards_for(pid, hook="patient-view")
        assert len(cards) == 1
        assert cards[0]["summary"].startswith("Twin: ")
    pm = run.cards_for(_pid(run, "CYP2C19 poor metabolizer"), hook="patient-view")[0]
    assert "CYP2C19" in pm["summary"]
    assert "PREVENT" in pm["summary"] and "PhenoAge" in pm["summary"]


def test_report_folder_holds_the_same_cards_and_a_page(run: DemoResult) -> None:
    cards = orjson.loads(run.report["cards"].read_bytes())
    assert cards == [r.to_json() for r in run.results]
    assert len(cards) == PATIENTS * 7  # six order-select calls and one patient-view per patient
    page = run.report["html"].read_text()
    assert "CYP2C19 poor metabolizer" in page
    assert "Clopidogrel: use an alternative (CYP2C19 Poor Metabolizer)" in page
    summary = orjson.loads(run.report["summary"].read_bytes())
    assert summary["cards"] == sum(len(r.cards) for r in run.results)
    assert orjson.loads(run.report["cohort"].read_bytes())["seed"] == SEED


def test_no_process_is_left_running(run: DemoResult) -> None:
    logs = run.report["html"].parent / "logs"
    for name in ("worker", "api"):
        pid = int((logs / f"{name}.pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # the whole process group is gone


def test_ctrl_c_stops_everything_and_exits_130(e2e_redis_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TWINRX_REDIS_URL": e2e_redis_url}
    out = tmp_path / "report"
    demo = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "demo", "--patients", str(PATIENTS), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        started = wait_until(lambda: (out / "logs" / "api.pid").exists() or demo.poll() is not None, timeout=120)
        assert started and demo.poll() is None
        demo.send_signal(signal.SIGINT)
        _, stderr = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
    assert demo.returncode == 130, stderr.decode()
    assert stderr.decode().strip().splitlines()[-1] == (
        "twinrx: error: interrupted; every process the demo started has been stopped"
    )
    for name in ("worker", "api"):
        pid = int((out / "logs" / f"{name}.pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)


def test_a_failing_run_stops_everything_and_says_why(demo_options: DemoOptions, tmp_path: Path) -> None:
    # The worker is started a moment before the first poll, so a near-zero deadline always expires first.
    out = tmp_path / "report"
    options = replace(demo_options, patients=PATIENTS, out=out, ingest_timeout=0.001)
    with pytest.raises(IngestTimeout, match=r"of 8 patients had no ingest outcome after 0 s"):
        run_demo(options)
    for name in ("worker", "api"):
        pid = int((out / "logs" / f"{name}.pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
