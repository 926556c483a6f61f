"""The examples of docs/api.md run, top to bottom as one script, as the page says they do."""

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: Path) -> list[str]:
    """The ```python blocks of a page, without those marked ```python no-run."""
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def test_api_examples_run(tmp_path):
    blocks = python_blocks(DOCS / "api.md")
    assert len(blocks) >= 8  # the page's examples, not an empty match
    script = tmp_path / "api_examples.py"
    script.write_text("\n\n".join(blocks))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
