"""Write docs/laws.md, the law reference, from the catalog.

    python scripts/gen_laws_md.py > docs/laws.md

The page is generated, never edited by hand: tests/test_docs.py checks that the
committed file equals this script's output, so a change to a law's formula, bounds or
citation shows up as a failing test until the page is regenerated.
"""

from __future__ import annotations

import scalinglaws as sl

HEADER = """\
# Law reference

Generated from the catalog by `scripts/gen_laws_md.py`; do not edit by hand. The same
text is printed by `scalinglaws laws NAME` and by `sl.get_law(NAME).describe()`.

Each law predicts its target (usually `loss`) from its variables. Parameter bounds are
those the fit enforces; `(log)` marks a parameter searched on a log scale. Use a name
with `sl.fit(runs, NAME)` or `scalinglaws fit DATA --law NAME`.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The page, as a string."""
    names = list(sl.laws.CATALOG)
    lines = [HEADER, "| name | what it models | variables | predicts |", "| --- | --- | --- | --- |"]
    for name in names:
        law = sl.get_law(name)
        lines.append(f"| [`{name}`](#{name}) | {_cell(law.description)} | {', '.join(law.variables)} | {law.target} |")
    for name in names:
        lines += ["", f"## {name}", "", "```text", sl.get_law(name).describe(), "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
