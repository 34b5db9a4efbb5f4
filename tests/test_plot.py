"""Figures: returned, never shown, drawing what they claim."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import scalinglaws as sl
from scalinglaws import plot
from scalinglaws.cli import app as cli
from scalinglaws.errors import DataError, FitError
from scalinglaws.judge.compare import compare_ladders
from scalinglaws.judge.validate import validate
from scalinglaws.render import style as plot_style

pytestmark = pytest.mark.filterwarnings("ignore::scalinglaws.errors.ScalingLawsWarning")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def curve() -> tuple[sl.Runs, sl.Fit]:
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 14)
    runs = sl.load_runs(pd.DataFrame({"x": x, "loss": (1.0 + 20 * x**-0.35) * np.exp(rng.normal(0, 0.01, 14))}))
    return runs, sl.fit(runs, "power", bootstrap=20)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _hollow(ax) -> int:
    n = 0
    for c in ax.collections:
        fc = c.get_facecolors()
        if len(c.get_offsets()) and len(fc) == 0:
            n += len(c.get_offsets())
    return n


def test_fit_plot_draws_band_curve_and_held_out_runs(curve):
    runs, _ = curve
    v = validate(runs, "power", n=3, bootstrap=20)
    fig = plot.fit(v.fit, runs, validation=v)
    assert isinstance(fig, Figure) and plt.get_fignums() == []
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert _hollow(ax) == 3  # the held-out runs
    labels = ax.get_legend_handles_labels()[1]
    assert "90% predictive interval" in labels and "held out" in labels
    assert "extrapolated (beyond the fitted runs)" in labels
    # the band is the fit's own predictive interval on a dense grid (smooth, not a polygon)
    line = ax.get_lines()[0]
    xs, ys = line.get_xdata(), line.get_ydata()
    assert len(xs) >= 200 and np.allclose(ys, v.fit.predict(x=xs, check_range=False))
    band = ax.collections[0].get_paths()[0].vertices
    lo, hi = v.fit.predict_interval(0.9, x=xs, check_range=False)
    assert np.isclose(band[:, 1].min(), lo.min()) and np.isclose(band[:, 1].max(), hi.max())
    # the shaded range starts at the largest fitted run
    span = [p for p in ax.patches if p.get_label().startswith("extrapolated")]
    assert len(span) == 1 and span[0].get_x() == pytest.approx(runs.column("x")[:-3].max())
    assert _png(fig).startswith(PNG)


def test_learning_curve_extends_beyond_the_data(curve):
    runs, f = curve
    fig = plot.learning_curve(f, runs)
    xs = fig.axes[0].get_lines()[0].get_xdata()
    assert xs.max() == pytest.approx(1e7, rel=1e-6)  # 10 times the largest x
    two_variable = sl.fit(
        pd.DataFrame({"n_params": [1e8, 2e8, 4e8, 8e8, 1e8, 4e8], "n_tokens": [1e9, 1e9, 1e9, 1e9, 4e9, 4e9],
                      "loss": [3.2, 3.0, 2.9, 2.85, 3.0, 2.7]}),
        "E + A / n_params**alpha + B / n_tokens**beta",
    )
    with pytest.raises(FitError, match="law of one variable"):
        plot.learning_curve(two_variable)


def test_residuals_are_log_residuals(curve):
    runs, f = curve
    fig = plot.residuals(f, runs)
    assert len(fig.axes) == 2
    y = fig.axes[0].collections[0].get_offsets()[:, 1]
    expect = np.log(runs.column("loss")) - np.log(f.predict(x=runs.column("x")))
    assert np.allclose(y, expect)


def test_bootstrap_pairs(curve):
    _, f = curve
    fig = plot.bootstrap(f)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(fig.axes) == 9 and len(visible) == 6  # lower triangle and diagonal of 3 x 3
    assert fig.axes[3].get_ylabel() == "log10 A"  # A is a log parameter
    # tick labels legible in the report (the grid is shown at 80 % of the page) and not overlapping
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    labels = [t for a in visible for t in (*a.get_xticklabels(), *a.get_yticklabels()) if t.get_visible() and t.get_text()]
    assert labels and min(t.get_fontsize() for t in labels) >= 8.5
    for a in visible:
        boxes = [t.get_window_extent(renderer) for t in a.get_xticklabels() if t.get_visible() and t.get_text()]
        assert not any(b1.overlaps(b2) for i, b1 in enumerate(boxes) for b2 in boxes[i + 1:])
    with pytest.raises(FitError, match="no bootstrap draws"):
        plot.bootstrap(sl.fit(curve[0], "power"))
    with pytest.raises(FitError, match="no free parameter 'B'"):
        plot.bootstrap(f, ["B"])


def _isoflop_runs(budgets=(1e18, 1e19, 1e20, 1e21)):
    E, A, B, a, b = 1.7, 400.0, 400.0, 0.34, 0.28
    rows = []
    for c in budgets:
        n_opt = ((a * A) / (b * B)) ** (1 / (a + b)) * (c / 6) ** (b / (a + b))
        for n in n_opt * np.geomspace(0.2, 5, 9):
            d = c / (6 * n)
            rows.append({"n_params": n, "n_tokens": d, "loss": E + A * n**-a + B * d**-b})
    return sl.load_runs(pd.DataFrame(rows))


def test_isoflop_draws_the_result_it_is_given():
    iso = sl.isoflop(_isoflop_runs(), bootstrap=0)
    fig = plot.isoflop(iso)
    ax = fig.axes[0]
    # the stars are the analysis' own optima, not a second analysis
    stars = [c for c in ax.collections if len(c.get_offsets()) and c.get_sizes().size and c.get_sizes()[0] == 110]
    assert len(stars) == 1
    assert np.allclose(stars[0].get_offsets()[:, 0], iso.optima.sort_values("flops")["n_opt"])
    assert np.allclose(stars[0].get_offsets()[:, 1], iso.optima.sort_values("flops")["loss_opt"])
    # each budget's curve is the result's fitted curve
    drawn = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(iso.curves[iso.curves.flops == iso.optima.flops[0]])]
    first = iso.curves[iso.curves.flops == iso.optima.flops[0]]
    assert any(np.allclose(ln.get_ydata(), first["loss_fit"]) for ln in drawn)
    # compute is a colorbar, not one legend entry per budget; the legend explains the marks, below the axes
    assert len(fig.axes) == 2 and "FLOPs" in fig.axes[1].get_ylabel()
    labels = ax.get_legend_handles_labels()[1]
    assert "frontier of the minima" in labels and not any("C=" in lab for lab in labels) and len(labels) <= 8
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.get_position().y0 * fig.bbox.height
    assert "parameters" in ax.get_xlabel() and ax.xaxis.get_major_formatter()(1e9, 0) == "1B"
    assert "frontier of the minima" not in plot.isoflop(iso, frontier=False).axes[0].get_legend_handles_labels()[1]
    assert _png(fig).startswith(PNG)


def test_isoflop_with_a_law_and_left_out_budgets():
    runs = _isoflop_runs()
    law = sl.fit(runs, "E + A / n_params**alpha + B / n_tokens**beta")
    one_sided = runs.data.sort_values("n_params").groupby("flops", group_keys=False).head(9)
    edge = pd.concat([one_sided[one_sided.flops < 5e20], one_sided[one_sided.flops > 5e20].head(4)])
    iso = sl.isoflop(edge, bootstrap=0)
    assert not iso.optima["used"].all()
    labels = plot.isoflop(iso, fit=law).axes[0].get_legend_handles_labels()[1]
    assert any("left out" in lab for lab in labels) and any("fit along each budget" in lab for lab in labels)


def test_isoflop_refuses_runs_in_one_line():
    with pytest.raises(DataError, match=r"pass sl.isoflop\(runs\)"):
        plot.isoflop(_isoflop_runs())


def test_fit_plot_of_a_law_in_size_and_data_groups_by_budget():
    rng = np.random.default_rng(1)
    rows = []
    for c in (1e18, 1e19, 1e20):
        for n in np.geomspace(3e7, 3e9, 6):
            rows.append({"n_params": n, "flops": c * rng.uniform(0.99, 1.01), "loss": 0.0})
    df = pd.DataFrame(rows)
    df["n_tokens"] = df.flops / (6 * df.n_params)
    df["loss"] = 1.7 + 400 * df.n_params**-0.34 + 400 * df.n_tokens**-0.28
    f = sl.fit(df, "E + A / n_params**alpha + B / n_tokens**beta")
    fig = plot.fit(f, df)
    ax = fig.axes[0]
    drawn = [ln for ln in ax.get_lines() if len(ln.get_xdata()) >= 200]
    assert len(drawn) == 3 + 1  # the law along each budget, and dashed at 10 times the largest
    for line, c in zip(drawn, (1e18, 1e19, 1e20, 1e21)):
        n = line.get_xdata()
        centre = np.exp(np.log(df.flops[np.isclose(df.flops, c, rtol=0.02)]).mean()) if c < 1e21 else 10 * df.flops.max()
        assert np.allclose(line.get_ydata(), f.predict(n_params=n, n_tokens=centre / (6 * n), check_range=False), rtol=1e-3)
    assert drawn[-1].get_linestyle() == "--" and "extrapolated" in drawn[-1].get_label()
    assert ax.get_xlabel() == "model size N (parameters)" and ax.get_ylabel() == "loss (nats/token)"
    assert len(fig.axes) == 2 and "FLOPs" in fig.axes[1].get_ylabel()  # compute is a colorbar, as in the IsoFLOP figure
    assert ax.xaxis.get_major_formatter()(1e9, 0) == "1B"
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.get_position().y0 * fig.bbox.height  # below the data
    # the budgets vary by 1 % within a group: a colour is the group's centre, and the colorbar says so
    assert fig.axes[1].get_ylabel() == "compute C (FLOPs), geometric mean of each group"
    exact = df.assign(flops=10 ** np.round(np.log10(df.flops)))
    assert plot.fit(f, exact).axes[1].get_ylabel() == "compute C (FLOPs)"  # one budget per group


def test_validation_and_ladders(curve):
    runs, _ = curve
    v = validate(runs, "power", n=4, bootstrap=20)
    fig = plot.validation(v)
    assert "log RMSE" in fig.axes[0].get_title()
    c = np.geomspace(1e18, 1e21, 8)
    lc = compare_ladders(pd.DataFrame({"flops": c, "loss": 1.7 + (1e17 / c) ** 0.1}),
                         pd.DataFrame({"flops": c, "loss": 1.7 + (2e17 / c) ** 0.12}), bootstrap=0)
    fig = plot.ladders(lc)
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    assert len(fig.axes[1].get_lines()) >= 2


def test_log_ticks_are_readable():
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_yscale("log")
    ax.set_ylim(2.0, 3.6)  # under a decade: several labelled ticks, not only 2 and 3
    plot_style.log_ticks(ax.yaxis)
    ticks = [t for t in ax.yaxis.get_majorticklocs() if 2.0 <= t <= 3.6]
    assert len(ticks) >= 4 and ax.yaxis.get_major_formatter()(2.5, 0) == "2.5"
    ax.set_xscale("log")
    ax.set_xlim(1e18, 1e23)
    plot_style.log_ticks(ax.xaxis, "power")
    assert ax.xaxis.get_major_formatter()(1e21, 0) == "$10^{21}$"
    assert plot_style.count_label(3e7) == "30M" and plot_style.count_label(1.5e9) == "1.5B"
    assert plot_style.axis_label("n_tokens") == "training data D (tokens)"


@pytest.mark.parametrize("suffix, magic", [(".png", PNG), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_save_writes_the_format_of_the_suffix(curve, tmp_path, suffix, magic):
    runs, f = curve
    path = plot.save(plot.learning_curve(f, runs), tmp_path / f"curve{suffix}")
    assert path.read_bytes().startswith(magic)


def test_save_refuses_an_unknown_suffix(curve, tmp_path):
    with pytest.raises(DataError, match="cannot write a figure as '.xyz'"):
        plot.save(plot.learning_curve(curve[1], curve[0]), tmp_path / "curve.xyz")


def test_palette_is_okabe_ito():
    assert len(plot.OKABE_ITO) == 8 and plot.OKABE_ITO[:2] == ("#0072B2", "#E69F00")


def test_cli_plot_writes_a_png(monkeypatch, tmp_path, capsys, curve):
    runs, _ = curve
    path = tmp_path / "curve.csv"
    runs.data.to_csv(path, index=False)
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.judge"))
    out = tmp_path / "fit.png"
    assert cli.main(["plot", str(path), "--law", "power", "-o", str(out), "--kind", "learning-curve"]) == 0
    assert out.read_bytes().startswith(PNG)
    assert cli.main(["plot", str(path), "--law", "power", "-o", str(tmp_path / "fit.jpg")]) == 2
    assert "must end in .png, .pdf or .svg" in capsys.readouterr().err


def test_cli_plot_isoflop_draws_the_analysis(monkeypatch, tmp_path):
    path = tmp_path / "iso.csv"
    _isoflop_runs().data.to_csv(path, index=False)
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "scalinglaws.cli.judge"))
    out = tmp_path / "iso.png"
    assert cli.main(["plot", str(path), "--law", "none", "--kind", "isoflop", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)


def test_fit_plot_title_counts_points_of_a_learning_curve(curve):
    """A fit to the points of learning curves (a step column, a run on many rows) is titled and
    labelled in points, not runs; a table of final losses keeps "runs"."""
    runs, fit = curve
    assert plot.fit(fit, runs).axes[0].get_title() == "power fitted to 14 runs"
    steps = sl.load_runs(runs.data.assign(step=np.arange(14), run="a"))
    ax = plot.fit(fit, steps, extend_to=1e7).axes[0]
    assert ax.get_title() == "power fitted to 14 points"
    labels = ax.get_legend_handles_labels()[1]
    assert "points" in labels and "runs" not in labels and "extrapolated (beyond the fitted points)" in labels
    one_run = sl.load_runs(runs.data.assign(run_id=["a"] * 7 + ["b"] * 7))
    assert plot.fit(fit, one_run).axes[0].get_title() == "power fitted to 14 points"


def test_figures_of_a_fit_refuse_other_results_in_one_line(curve):
    """A plan, a density table or a curve fit passed where a Fit belongs gave an
    AttributeError ('CapabilityDensity' object has no attribute 'options')."""
    runs, f = curve
    plan = sl.plan_precision(sl.Fit.from_params("kumar_precision", {"E": 1.7, "A": 400.0, "alpha": 0.34, "B": 400.0,
                                                                    "beta": 0.28, "gamma_w": 2.7, "gamma_a": 2.2,
                                                                    "gamma_kv": 1.0}), 1e21)
    for draw in (plot.fit, plot.learning_curve, plot.residuals):
        with pytest.raises(DataError, match=r"^plot\.\w+ draws a Fit \(what sl.fit returns\), got PrecisionPlan$"):
            draw(plan, runs)
    with pytest.raises(DataError, match=r"^plot\.bootstrap draws a Fit \(what sl.fit returns\), got dict$"):
        plot.bootstrap(dict(f.params))


def test_a_fit_in_linear_space_is_drawn_on_a_linear_vertical_axis(curve):
    """A score fitted by least squares on the score itself (the Densing reference curve of
    docs/finetune-density.md) was drawn on a log axis, unlike what was fitted."""
    runs, f = curve
    pub = sl.datasets.load("published_base_models")
    ref = sl.fit(pub[pub.family == "Llama-1"][["n_params", "mmlu_5shot"]],
                 "25 + 75 / (1 + exp(-k * (log(n_params) - m)))", target="mmlu_5shot",
                 objective=sl.Objective(loss="squared", space="linear"))
    ax = plot.fit(ref, pub[["n_params", "mmlu_5shot"]]).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_xscale() == "log"
    lo, hi = ax.get_ylim()
    assert lo < pub.mmlu_5shot.min() and hi > pub.mmlu_5shot.max()  # every score in view
    assert plot.fit(f, runs).axes[0].get_yscale() == "log"  # a loss fitted in log space stays on log axes


def test_residuals_of_a_fit_in_linear_space_are_in_the_targets_units():
    """A least-squares fit on a score minimised ``actual - predicted``; its residual figure
    showed log residuals ("RMS 0.342 in log mmlu_5shot") instead."""
    frame = pd.DataFrame({"x": np.geomspace(1e3, 1e6, 10)})
    frame["score"] = 80 - 30 * frame.x**-0.1 + np.tile([0.5, -0.5], 5)
    f = sl.fit(frame, "E + A * x**-alpha", target="score", objective=sl.Objective(loss="squared", space="linear"))
    fig = plot.residuals(f, frame)
    y = fig.axes[0].collections[0].get_offsets()[:, 1]
    assert np.allclose(y, frame.score - f.predict(x=frame.x))
    assert fig.axes[0].get_ylabel() == "residual of score (actual − fit)"
    assert fig._suptitle.get_text().endswith(f"RMS {np.sqrt(np.mean(y**2)):.3g} in score")


def test_density_trend_draws_the_fitted_points_the_others_and_the_line():
    """The Densing figure: one labelled point per envelope model, every other model grey, the
    fitted line through exp(A t + B) on a log axis, the doubling time in the title; anything
    but a DensityTrend is a one-line error."""
    table = sl.datasets.load("densing_simulated")
    trend = sl.density_trend(table)
    fig = plot.density_trend(trend, table)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and f"{trend.doubling_days:.0f} days" in ax.get_title()
    labels = {t.get_text() for t in ax.texts}
    assert labels == set(trend.envelope.model)
    others, fitted = (c.get_offsets() for c in ax.collections[:2])
    assert len(others) + len(fitted) == len(table) and len(fitted) == len(trend.envelope)
    y = ax.lines[0].get_ydata()
    assert y[0] == pytest.approx(np.exp(trend.A * trend.envelope.t_days.min() + trend.B))
    with pytest.raises(sl.DataError, match="DensityTrend"):
        plot.density_trend(table)
