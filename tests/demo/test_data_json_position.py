"""``twinrx demo --data DIR`` names the line and column where a malformed JSON file stops parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_malformed_json_file_is_named_with_line_and_column(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    broken = data / "broken.json"
    broken.write_text('{\n  "resourceType": "Bundle",\n  "entry": [,]\n}\n')
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--out", str(tmp_path / "report"), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TWINRX_REDIS_URL": "redis://127.0.0.1:1/0"},  # never reached: input fails first
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    # the stray comma is the 13th character of line 3
    assert done.stderr == (
        f"twinrx: error: {broken}: malformed input "
        "(unreadable JSON at line 3 column 13: unexpected character, expected a JSON value)\n"
    )
