"""README's "What else it answers" table: every row's command runs as written.

The table's commands sit in table cells, not in a bash block, so tests/test_docs.py does
not run them; here each row is one test: ``scalinglaws ...`` parts (joined by ``&&``)
through the CLI's ``main`` in a temporary directory, a ``python -c`` part in process.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from scalinglaws.cli.app import main

ROOT = Path(__file__).resolve().parents[1]


def rows() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What else it answers", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`") and cells[1].endswith("`"):
            out.append((cells[0], cells[1][1:-1]))
    return out


def test_the_table_has_a_row_per_new_page() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What else it answers", 1)[1].split("\n## ", 1)[0]
    for page in ("shape.md", "precision.md", "data-laws.md", "finetune-density.md"):
        assert f"(docs/{page})" in section and (ROOT / "docs" / page).is_file(), page
    assert len(rows()) >= 5


@pytest.mark.parametrize(("question", "command"), rows(), ids=[q.split(" (")[0] for q, _ in rows()])
def test_row_runs(question: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    for part in command.split("&&"):
        words = shlex.split(part)
        if words[0] == "python":
            assert words[1] == "-c"
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(compile(words[2], "<README>", "exec"), {})
            assert buf.getvalue().strip()
            continue
        assert words[0] == "scalinglaws", part
        code = main(words[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{part}: {err}"
        assert out.strip() and not re.search(r"^error:", err, re.MULTILINE)
