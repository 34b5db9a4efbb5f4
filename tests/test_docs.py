"""The documentation runs as written.

Every ```python block of README.md and docs/*.md is executed with Sybil, top to bottom,
in one namespace per file, in a temporary working directory, on bundled data only. The
README's command lines that call ``scalinglaws`` are run too (in process, through the
CLI's ``main``); ``docs/laws.md`` must equal what ``scripts/gen_laws_md.py`` prints;
``docs/index.md`` lists every page; no page or docstring cites the unshipped ``LAWS.md``.
"""

from __future__ import annotations

import re
import runpy
import shlex
import warnings
from pathlib import Path

import matplotlib
import pytest
from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser

from scalinglaws.cli.app import main

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python\s*$", re.MULTILINE)


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_python_block_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    document = Sybil(parsers=[PythonCodeBlockParser()]).parse(page)
    examples = list(document)
    assert len(examples) == len(PYTHON_BLOCK.findall(page.read_text(encoding="utf-8")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the prose says which warnings a block gives
        for example in examples:
            try:
                example.evaluate()
            except Exception as err:
                raise AssertionError(f"{page.name}, line {example.line}: {type(err).__name__}: {err}") from err


def test_the_documented_pages_have_python_blocks() -> None:
    for page in DOCS:
        if page.name not in ("architecture.md", "laws.md", "index.md"):
            assert PYTHON_BLOCK.search(page.read_text(encoding="utf-8")), page.name


def test_the_index_lists_every_page_and_the_readme_links_it() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\]\(([\w-]+\.md)\)", index))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert listed == pages, f"docs/index.md lists {sorted(listed)}; docs/ holds {sorted(pages)}"
    assert "(docs/index.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_no_page_or_docstring_cites_the_unshipped_formula_notes() -> None:
    """``LAWS.md`` is the team's private reference; users get the papers' names instead."""
    sources = [*DOCS, *sorted((ROOT / "src").rglob("*.py"))]
    citing = [p.relative_to(ROOT).as_posix() for p in sources if "LAWS.md" in p.read_text(encoding="utf-8")]
    assert not citing, f"cite the paper, not LAWS.md, in: {', '.join(citing)}"


def readme_commands() -> list[list[str]]:
    """Every ``scalinglaws ...`` command line of the README's bash blocks, as argv lists."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                words = shlex.split(part, comments=True)
                if words and words[0].endswith("scalinglaws") and "sweep" not in words[1:2]:
                    commands.append(words[1:])
    return commands


def test_readme_command_lines_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    commands = readme_commands()
    assert ["laws"] in commands
    assert ["fit", "chinchilla_epoch", "--law", "chinchilla", "--bootstrap", "1000", "--seed", "0"] in commands
    for argv in commands:
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == 0, f"scalinglaws {shlex.join(argv)}: {err}"
        assert out.strip(), f"scalinglaws {shlex.join(argv)} printed nothing"


def test_law_reference_is_generated_from_the_catalog() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "gen_laws_md.py"))["render"]
    assert (ROOT / "docs" / "laws.md").read_text(encoding="utf-8") == render()
