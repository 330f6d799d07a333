"""CLI edge of services.risk: ``twinrx risk score`` and ``twinrx risk prs``.

Thin: read files, call the library, print JSON or TSV. Errors are TwinRxError subclasses, which
``services.cli`` prints as one line naming the file and field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from services.common.errors import InputFileError, TwinRxError
from services.risk.cases import canonical_model, score_case

risk_app = typer.Typer(no_args_is_help=True)


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError("file not found", location=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read: {exc.__class__.__name__}", location=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"not valid JSON (line {exc.lineno}, column {exc.colno})", location=str(path)) from None


def _score_one(model: str, case: Any, where: str) -> dict[str, Any]:
    if not isinstance(case, dict):
        raise InputFileError("a case must be a JSON object", location=where)
    inputs = case.get("inputs", case)
    expected = case.get("expected")
    keys = list(expected) if isinstance(expected, dict) else None
    if "model" in case and "inputs" in case and canonical_model(str(case["model"])) != canonical_model(model):
        raise InputFileError(f"case is for model {case['model']!r}, not {model!r}", location=where)
    try:
        return score_case(model, inputs, keys=keys)
    except TwinRxError as exc:
        exc.location = f"{where}: {exc.location}" if exc.location else where
        raise


@risk_app.command("score")
def score(
    model: Annotated[str, typer.Argument(help="prevent, pce, phenoage or findrisc")],
    inputs: Annotated[Path, typer.Option("--inputs", help="A case JSON file (one case or a list of cases).")],
) -> None:
    """Score reference-case inputs with one model and print the results as JSON."""
    canonical_model(model)
    data = _read_json(inputs)
    if isinstance(data, list):
        results: Any = [
            _score_one(model, case, f"{inputs} case {case.get('id', i) if isinstance(case, dict) else i}")
            for i, case in enumerate(data)
        ]
    else:
        where = f"{inputs} case {data['id']}" if isinstance(data, dict) and "id" in data else str(inputs)
        results = _score_one(model, data, where)
    typer.echo(json.dumps(results, indent=1))
