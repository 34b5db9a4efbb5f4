"""Notebook display: results render as HTML tables that say what the text repr says."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.judge.compare import compare
from scalinglaws.render.style import count_label

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")


class _Balanced(HTMLParser):
    """Checks that every opened tag is closed in order (void tags aside)."""

    VOID = frozenset({"br", "img", "hr", "meta"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> str:
    p = _Balanced()
    p.feed(page)
    p.close()
    assert p.stack == [], f"unclosed {p.stack}"
    return " ".join(" ".join(p.text).split())


def _curve() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 14)
    return pd.DataFrame({"x": x, "loss": (1.0 + 20 * x**-0.35) * np.exp(rng.normal(0, 0.01, 14))})


def _grid() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for c in (1e18, 1e19, 1e20):
        for n in np.geomspace(2e7, 2e9, 5):
            d = c / (6 * n)
            rows.append({"n_params": n, "n_tokens": d, "loss": (1.7 + 400 * n**-0.34 + 400 * d**-0.28)
                         * np.exp(rng.normal(0, 0.005))})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def grid_fit() -> sl.Fit:
    return sl.fit(_grid(), "E + A / n_params**alpha + B / n_tokens**beta", bootstrap=10, seed=0)


def test_fit_html_shows_parameters_intervals_and_trust(grid_fit):
    text = _parse(grid_fit._repr_html_())
    assert "OK:" in text and "NOT OK" not in text
    lo, hi = grid_fit.intervals(0.9)["alpha"]
    assert f"{grid_fit.params['alpha']:.6g}" in text and f"{lo:.4g} – {hi:.4g}" in text
    broken = dataclasses.replace(grid_fit, diagnostics=dataclasses.replace(grid_fit.diagnostics, converged=False))
    assert "NOT OK:" in _parse(broken._repr_html_())


def test_plan_html_has_units_and_no_dumped_fields(grid_fit):
    plan = sl.compute_optimal(grid_fit, flops=1e21, level=0.9)
    page = plan._repr_html_()
    text = _parse(page)
    assert "parameters" in text and "tokens" in text and "nats/token" in text and "90% interval" in text
    assert "n_draws" not in page and "at_search_bound" not in page
    assert "training compute" not in text  # the training FLOPs are the budget: no second row
    lo, hi = plan.intervals["n_params"]
    assert lo < plan.n_params < hi and f"{count_label(lo)} – {count_label(hi)}" in text


def test_validation_html_flags_low_coverage():
    v = sl.validate(_curve(), "power", n=5, bootstrap=0)
    text = _parse(v._repr_html_())
    assert "coverage of 90% intervals" in text and "log RMSE" in text
    low = dataclasses.replace(v, coverage=0.2)
    page = low._repr_html_()
    assert "(too low)" in _parse(page) and low.warnings[0] in page
    if not v.undercovered:
        assert "(too low)" not in text


def test_comparison_html_names_free_parameters():
    c = compare(_curve(), ["power", "m1"], n=4, bootstrap=0)
    page = c._repr_html_()
    text = _parse(page)
    assert "free parameters" in text and "n_params" not in page and f"best extrapolation: {c.best}" in text
    assert page.count("<tr") == len(c.table) + 1


def test_isoflop_html():
    iso = sl.isoflop(_grid(), bootstrap=0)
    assert "IsoFLOP" in _parse(iso._repr_html_()) or "isoflop" in iso._repr_html_().lower()
