"""MkDocs hook: show Sphinx cross-reference roles in docstrings as plain code.

The docstrings use Sphinx roles (``:func:`fit```), which help readers of the source and
of ``help()``; mkdocstrings renders them literally as ``:func:fit``. This drops the role
prefix from the rendered HTML, leaving the name in code font.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc|const):(?=<code>)")


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub("", html)
