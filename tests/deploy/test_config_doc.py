"""The README's configuration table is generated from Settings and must not go stale."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import Settings

from ._k8s import REPO, config_doc


class _Example(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EX_")

    mode: Literal["a", "b"] = Field("a", description="Mode | with a pipe.")
    limit: int = Field(3, ge=1, le=9, description="A bounded count.")
    token: SecretStr | None = Field(None, description="A credential.")
    hosts: list[str] = Field(default_factory=lambda: ["x"], description="Hosts.")
    flag: bool = Field(False, description="A switch.")


def test_renders_types_bounds_defaults_and_where_to_set() -> None:
    assert config_doc().render_table(_Example).splitlines() == [
        "| Variable | Type | Default | Kubernetes | Description |",
        "| --- | --- | --- | --- | --- |",
        "| `EX_MODE` | one of `a`, `b` | `a` | ConfigMap | Mode \\| with a pipe. |",
        "| `EX_LIMIT` | integer (≥ 1, ≤ 9) | `3` | ConfigMap | A bounded count. |",
        "| `EX_TOKEN` | string (secret) | unset | Secret | A credential. |",
        '| `EX_HOSTS` | JSON list of strings | `["x"]` | ConfigMap | Hosts. |',
        "| `EX_FLAG` | boolean | `false` | ConfigMap | A switch. |",
    ]


def test_readme_table_is_current() -> None:
    assert config_doc().main(["--check"]) == 0, "run: python scripts/gen_config_doc.py"


def test_readme_table_has_a_row_per_setting() -> None:
    readme = (REPO / "README.md").read_text()
    start, end = readme.index("<!-- config-table:start -->"), readme.index("<!-- config-table:end -->")
    rows = [line for line in readme[start:end].splitlines() if line.startswith("| `TWINRX_")]
    assert [row.split("`")[1] for row in rows] == [f"TWINRX_{name.upper()}" for name in Settings.model_fields]


def test_check_fails_on_a_stale_table_and_the_generator_mends_it(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- config-table:start -->\n| old |\n<!-- config-table:end -->\ntail\n")
    gen = config_doc()
    assert gen.main(["--check", "--readme", str(readme)]) == 1
    assert gen.main(["--readme", str(readme)]) == 0
    assert gen.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n<!-- config-table:start -->\n| Variable |") and text.endswith("-->\ntail\n")
    assert "| old |" not in text
