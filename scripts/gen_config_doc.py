"""Write the configuration table in README.md from the ``Settings`` class (one row per ``TWINRX_*`` variable).

    python scripts/gen_config_doc.py           # rewrite the table between the config-table markers
    python scripts/gen_config_doc.py --check   # exit 1 if the table is stale (tests/deploy runs this)

Rows come from the fields in declaration order: the environment variable, the type with its bounds,
the default, where a Kubernetes deployment sets it (Secret for credentials, else the ConfigMap) and
the field's description.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"

# Not typed SecretStr, but a URL that may embed a password: set from a Secret too.
CREDENTIAL_FIELDS = frozenset({"redis_url"})

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}
_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"JSON list of {_type_name(item)}s"
    if annotation is SecretStr:
        return "string (secret)"
    return _SCALARS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(field: FieldInfo) -> str:
    parts = []
    for constraint in field.metadata:
        for kind, attr, symbol in _BOUNDS:
            if isinstance(constraint, kind):
                parts.append(f"{symbol} {getattr(constraint, attr)}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return f"`{json.dumps(value)}`"
    return f"`{value}`"


def _is_secret(name: str, field: FieldInfo) -> bool:
    return name in CREDENTIAL_FIELDS or "SecretStr" in str(field.annotation)


def render_table(settings_cls: type[BaseSettings]) -> str:
    """The Markdown table for ``settings_cls``."""
    prefix = str(settings_cls.model_config.get("env_prefix", ""))
    rows = [
        "| Variable | Type | Default | Kubernetes | Description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in settings_cls.model_fields.items():
        type_name = _type_name(field.annotation)
        bounds = _bounds(field)
        if bounds:
            type_name = f"{type_name} ({bounds})"
        where = "Secret" if _is_secret(name, field) else "ConfigMap"
        description = field.description or ""
        cells = [f"`{prefix}{name.upper()}`", type_name, _default(field), where, description]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def replace_block(text: str, table: str) -> str:
    """``text`` with the part between the markers replaced by ``table``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {START} and {END}, in that order")
    return text[: start + len(START)] + "\n" + table + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md's table is stale")
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from services.common.settings import Settings

    current = args.readme.read_text()
    updated = replace_block(current, render_table(Settings))
    if args.check:
        if updated != current:
            print(f"{args.readme}: configuration table is stale; run python scripts/gen_config_doc.py", file=sys.stderr)
            return 1
        return 0
    if updated != current:
        args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
