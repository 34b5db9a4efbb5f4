"""The walk-through in docs/architecture.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def test_how_to_add_a_law_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the walk-through has a Python block"
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {"__name__": "architecture_doc"})
