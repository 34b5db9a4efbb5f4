"""The HTML report: self-contained, complete, and rendered by a real headless browser."""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.cli import app as cli
from scalinglaws.errors import LawError
from scalinglaws.render.report import render_report
from scalinglaws.render.style import count_label
from scalinglaws.render.summary import target, verdict
from scalinglaws.reporting import build_report, write_report

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")) if p and Path(p).exists()), None)
_CHECK = (
    "<script>window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images);"
    "var ok=i.length>0&&i.every(function(m){return m.complete&&m.naturalWidth>0&&m.naturalHeight>0;});"
    "document.body.setAttribute('data-check',(ok?'IMAGES_OK':'IMAGES_BAD')+':'+i.length);});</script>"
)


def _curve() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 14)
    return pd.DataFrame({"x": x, "loss": (1.0 + 20 * x**-0.35) * np.exp(rng.normal(0, 0.01, 14))})


def _isoflop() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for c in (1e18, 1e19, 1e20):
        for n in np.geomspace(2e7, 2e9, 5):
            d = c / (6 * n)
            rows.append({"n_params": n, "n_tokens": d, "loss": (1.7 + 400 * n**-0.34 + 400 * d**-0.28)
                         * np.exp(rng.normal(0, 0.005))})
    return pd.DataFrame(rows)


STARTS = {"E": [1.0, 2.0], "A": [100.0, 1000.0], "B": [100.0, 1000.0], "alpha": [0.3], "beta": [0.3]}


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, _curve(), "power", bootstrap=20, n=3)
    return path


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_page_is_self_contained_and_complete(page):
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    for section in ("Data", "Fit", "Diagnostics", "Figures", "Extrapolation test"):
        assert f"<h2>{section}</h2>" in text
    images = _images(text)
    assert len(images) == text.count("<img ") >= 5
    assert all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    # nothing outside the page: no scripts, style sheets, frames or remote addresses
    assert not re.search(r"<script|<link|<iframe|@import|https?://", text, flags=re.IGNORECASE)
    assert "90% interval" in text and "coverage of 90% intervals" in text
    assert "Compute-optimal plan" not in text  # a learning curve has no plan


def test_plan_section_for_laws_in_size_and_data(tmp_path, monkeypatch):
    r = sl.review(_isoflop(), "chinchilla", bootstrap=10, validate=False, starts=STARTS, plan_flops=[1e21, 1e22])
    text = render_report(r, figures=False)
    assert "<img" not in text and "Extrapolation test" in text
    assert "<h2>Compute-optimal plan</h2>" in text
    # one table for people: a column per budget, values with units and intervals, no dumped fields
    plan = text[text.index("<h2>Compute-optimal plan</h2>"):]
    assert "<th>C = 1e21 FLOPs</th><th>C = 1e22 FLOPs</th>" in plan
    p = r.plans[0][1]
    assert f"<td>model size N (parameters)</td><td>{count_label(p.n_params)} (" in plan
    for dumped in ("n_draws", "at_search_bound", "flop_convention", "training_flops", "training compute"):
        assert dumped not in plan  # training FLOPs equal the budget here: no second FLOP row
    assert f"over {p.n_draws} bootstrap refits" in plan
    # a law of one variable has no plan section
    text = build_report(_curve(), "power", bootstrap=0, validate=False, figures=False)
    assert "Compute-optimal plan" not in text


def test_summary_states_the_prediction_the_law_and_a_verdict():
    r = sl.review(_isoflop(), "chinchilla", bootstrap=10, starts=STARTS, frac=0.34, plan_flops=[1e21],
                  sensitivity_check=False)
    text = render_report(r, figures=False)
    top = text[:text.index("<h2>Data</h2>")]
    word, reasons = verdict(r, target(r))
    assert f'<span class="badge">{word}</span>' in top and all(html.escape(x) in top for x in reasons)
    p = r.plans[0][1]
    lo, _ = r.fit.predict_interval(0.9, n_params=p.n_params, n_tokens=p.n_tokens, check_range=False)
    value = float(r.fit.predict(n_params=p.n_params, n_tokens=p.n_tokens, check_range=False))
    assert f"<b>{value:.4g}</b>" in top and f"{float(lo[0] if np.ndim(lo) else lo):.4g} – " in top
    assert "10× beyond the largest run" in top and f"{r.validation.coverage:.0%} of {r.validation.n_test} runs" in top
    assert "E + A / n_params**alpha" in top


def test_verdict_follows_coverage_and_fit_trust():
    runs = sl.load_runs(_curve())
    r = sl.review(runs, "power", bootstrap=0, n=5, sensitivity_check=False)
    narrow = dataclasses.replace(r.validation, coverage=0.4)  # 2 of 5 held-out runs inside 90 % intervals
    assert narrow.undercovered
    bad = dataclasses.replace(r, validation=narrow)
    word, reasons = verdict(bad, target(bad))
    assert word == "CAUTION" and any("too narrow" in x for x in reasons)
    page = render_report(bad, figures=False)
    assert "The fit raised no warnings." not in page  # no green box under a cautious verdict
    assert verdict(dataclasses.replace(r, validation=None), None)[0] == "CAUTION"
    broken = dataclasses.replace(r.fit, diagnostics=dataclasses.replace(r.fit.diagnostics, converged=False))
    assert not broken.ok
    word, reasons = verdict(dataclasses.replace(r, fit=broken), None)
    assert word == "NOT OK" and reasons == list(broken.problems)
    if r.validation.coverage >= 0.85 and not r.warnings:
        assert verdict(r, target(r))[0] == "OK"


def test_heldout_table_names_the_runs_sizes():
    r = sl.review(_isoflop(), "chinchilla", bootstrap=0, starts=STARTS, frac=0.34, plan_flops=[],
                  sensitivity_check=False)
    text = render_report(r, figures=False)
    section = text[text.index("<h2>Extrapolation test</h2>"):]
    assert "<th>N (parameters)</th><th>D (tokens)</th>" in section
    row = r.validation.table.iloc[0]
    assert f"<td>{count_label(row['n_params'])}</td><td>{count_label(row['n_tokens'])}</td>" in section


def test_figures_are_full_width_and_sharp(page):
    text = page.read_text(encoding="utf-8")
    assert "figure img{width:100%" in text
    import matplotlib.image

    widths = [matplotlib.image.imread(io.BytesIO(img), format="png").shape[1] for img in _images(text)]
    assert min(widths) >= 900  # 150 dpi: no blur when stretched to the page width


def test_figures_of_a_law_in_size_and_data():
    text = build_report(_isoflop(), "chinchilla", bootstrap=0, starts=STARTS, frac=0.34, plan_flops=[])
    assert "IsoFLOP analysis of the runs" in text and text.count("<img ") == 5  # fit, residuals, IsoFLOP, held out x 2


def test_review_carries_the_isoflop_analysis_the_figure_draws():
    r = sl.review(_isoflop(), "chinchilla", bootstrap=0, starts=STARTS, validate=False, plan_flops=[])
    assert isinstance(r.isoflop, sl.IsoFlop) and len(r.isoflop.optima) == 3
    expect = sl.isoflop(_isoflop(), bootstrap=0)
    assert np.allclose(r.isoflop.optima["n_opt"], expect.optima["n_opt"])
    # a law of one variable has none
    assert sl.review(_curve(), "power", bootstrap=0, validate=False).isoflop is None


def test_auto_report_shows_the_choice(tmp_path):
    text = build_report(_curve(), "auto", candidates=["m1", "power"], bootstrap=0, n=3, figures=False)
    assert "<h2>Law choice</h2>" in text and "nested log RMSE" in text


def test_report_needs_a_law():
    with pytest.raises(LawError, match="needs a law"):
        build_report(_curve())


def test_report_of_a_given_fit_and_validation():
    runs = sl.load_runs(_curve())
    f = sl.fit(runs, "power")
    text = build_report(runs, fit=f, validate=False, title="My <run>", figures=False)
    assert "<h1>My &lt;run&gt;</h1>" in text and "Not run." in text


def test_cli_report(monkeypatch, tmp_path, capsys):
    data = tmp_path / "curve.csv"
    _curve().to_csv(data, index=False)
    out = tmp_path / "page.html"
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.judge"))
    assert cli.main(["report", str(data), "--law", "power", "-o", str(out), "--bootstrap", "0", "--no-validate"]) == 0
    text = out.read_text()
    assert text.count("<img ") == 2 and "<h2>Extrapolation test</h2>" in text  # fit and residuals
    # the page's verdict on the console: a CAUTION is seen without opening the page
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"wrote {re.escape(str(out))}: (OK|CAUTION \(.+\)|NOT OK \(.+\))", line), line
    assert "CAUTION (the extrapolation was not tested on held-out runs" in line  # --no-validate
    assert cli.main(["report", str(data), "--law", "power", "-o", str(tmp_path / "nowhere" / "p.html")]) == 2
    assert "does not exist" in capsys.readouterr().err



def test_the_sensitivity_is_checked_where_the_summary_predicts():
    """The verdict reads the sensitivity spread: it must be the spread of the headline's
    prediction (the plan's run), not of some other point."""
    r = sl.review(_isoflop(), "chinchilla", bootstrap=0, validate=False, starts=STARTS, plan_flops=[1e21])
    tgt = target(r)
    assert tgt is not None and r.sensitivity is not None
    assert r.sensitivity.at == tgt.at
    assert r.sensitivity.baseline == pytest.approx(tgt.value, rel=1e-9)


def test_heldout_table_shows_the_largest_runs_first():
    r = sl.review(_isoflop(), "chinchilla", bootstrap=0, starts=STARTS, frac=0.34, plan_flops=[],
                  sensitivity_check=False)
    from scalinglaws.render.tables import heldout_table

    text = heldout_table(r.validation, limit=2)
    largest = r.validation.table.sort_values("flops", ascending=False, kind="stable")
    shown = [int(x) for x in re.findall(r"<tr><td>(\d+)</td>", text)]
    assert shown == [int(x) for x in largest["row"].iloc[:2]]
    assert f"The 2 largest (by flops) of {len(largest)} held-out runs" in text


def test_writing_a_report_does_not_warn_about_what_the_page_shows(tmp_path):
    """Figures draw the law past the runs (shaded) and the summary predicts at the plan: the
    page states the extrapolation, so `scalinglaws report` prints no stream of range warnings."""
    import warnings

    from scalinglaws.errors import ScalingLawsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = build_report(_isoflop(), "chinchilla", bootstrap=10, starts=STARTS, frac=0.34, plan_flops=[1e22],
                            sensitivity_check=False)
    ranged = [str(w.message) for w in caught if issubclass(w.category, ScalingLawsWarning)
              and "beyond the fitted range" in str(w.message)]
    assert not ranged, ranged
    assert "<th>Extrapolation</th><td>100× beyond the largest run</td>" in text


# ----------------------------------------------------------------------------- browser


def _chromium(tmp: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
        *extra, url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)  # type: ignore[arg-type]


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(page, tmp_path):
    """Every image decodes in a real browser, the console stays silent, the page is not blank."""
    import matplotlib.image

    text = page.read_text(encoding="utf-8")
    checked = tmp_path / "checked.html"
    checked.write_text(text.replace("</body>", _CHECK + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, checked.as_uri(), "--dump-dom")
    assert run.returncode == 0, run.stderr[-2000:]
    marker = re.search(r'data-check="(IMAGES_\w+):(\d+)"', run.stdout)
    assert marker, "the check script did not run"
    assert marker.group(1) == "IMAGES_OK" and int(marker.group(2)) == text.count("<img ")
    assert _console(run.stderr) == []

    shot = tmp_path / "shot.png"
    run = _chromium(tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1100,3000")
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    pixels = matplotlib.image.imread(str(shot))[..., :3]
    assert pixels.shape[0] == 3000 and float(pixels.std()) > 0.05  # text and figures, not a blank page
    assert _console(run.stderr) == []


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_browser_check_catches_a_broken_image(tmp_path):
    """The check above can fail: a page with an undecodable image is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA">' + _CHECK + "</body></html>")
    run = _chromium(tmp_path, bad.as_uri(), "--dump-dom")
    assert 'data-check="IMAGES_BAD:1"' in run.stdout


def test_the_summary_target_scales_only_the_scale_variables():
    """Without a plan the summary predicts at 10 times the largest run. Bits of precision
    are not a scale: the Kumar et al. report predicted at 160-bit weights before. The
    precision stays at the largest in the runs (16 bits), and the model size and data grow
    tenfold."""
    from scalinglaws.laws.precision import KUMAR_2024
    from scalinglaws.render.review import Review

    runs = sl.load_runs(sl.datasets.path("precision_sim"), where="law == 'kumar_precision'")
    fit = sl.Fit.from_params("kumar_precision", KUMAR_2024, law_options={"offsets": True})
    tgt = target(Review(runs=runs, fit=fit))
    assert tgt is not None
    for bits in ("precision_w", "precision_a", "precision_kv"):
        assert tgt.at[bits] == runs.column(bits).max() == 16
        assert f"{bits} = 16" in tgt.what
    assert tgt.at["n_params"] == 10 * runs.column("n_params").max()
    assert tgt.at["n_tokens"] == 10 * runs.column("n_tokens").max()
    assert tgt.what.startswith("10 times the largest run: n_params = 2.2B") and "the largest in the runs" in tgt.what
    assert 2 < tgt.value < 3  # the law at 16 bits, 2.2B parameters on 260B tokens (loss 2.90)


def test_a_law_without_a_scale_variable_has_no_summary_target():
    """A loss-to-accuracy law has only a loss as its variable: ten times the largest loss is
    no prediction anyone asks for, so the summary names none."""
    from scalinglaws.render.review import Review

    frame = pd.DataFrame({"loss": np.linspace(2.0, 4.0, 12)})
    frame["accuracy"] = 0.25 + 0.7 / (1 + np.exp(3.0 * (frame.loss - 3.0)))
    fit = sl.Fit.from_params("accuracy_sigmoid", {"floor": 0.25, "ceiling": 0.95, "k": 3.0, "L0": 3.0})
    assert target(Review(runs=sl.load_runs(frame), fit=fit)) is None


def test_the_residual_caption_says_what_the_figure_shows():
    """The caption read 'Log residuals of the fit (dotted: the Huber threshold)' for every
    fit, also one by least squares on the target itself (no Huber, no logs)."""
    linear = build_report(_curve(), "power", bootstrap=0, validate=False, sensitivity_check=False,
                          objective=sl.Objective(loss="squared", space="linear"))
    assert "Residuals (actual − fit) of the fit." in linear and "Huber threshold" not in linear
    default = build_report(_curve(), "power", bootstrap=0, validate=False, sensitivity_check=False)
    assert "Log residuals of the fit (dotted: the Huber threshold)." in default


def test_bootstrap_standard_errors_share_one_notation():
    """The parameter table's s.e. column reads 1480 beside 117, not 1.48e+03 beside 117."""
    from scalinglaws.render.report import _sig3

    assert [_sig3(v) for v in (1482.3, 117.2, 0.0012345, 2.5e7)] == ["1480", "117", "0.00123", "2.5e+07"]
