"""The command line: commands, JSON round trip, one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scalinglaws.cli.app import build_parser, main


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_laws_lists_the_catalog(capsys) -> None:
    code, out, _ = run(["laws"], capsys)
    assert code == 0
    for name in ("chinchilla", "kaplan", "henighan", "power", "m4", "bnsl", "muennighoff"):
        assert f"{name}:" in out
    assert "Hoffmann et al. 2022" in out


def test_fit_then_predict(tmp_path, capsys, shared_data) -> None:
    out_file = tmp_path / "fit.json"
    code, out, _ = run(
        [
            "fit", str(shared_data / "chinchilla_epoch" / "chinchilla_runs.csv"), "--law", "chinchilla",
            "--column", "n_params=N_params", "--column", "n_tokens=D_tokens",
            "--where", "excluded_by_epoch == 0", "--bootstrap", "50", "--seed", "0", "-o", str(out_file),
        ],
        capsys,
    )
    assert code == 0 and "alpha" in out and "converged: yes" in out
    saved = json.loads(out_file.read_text())
    assert saved["params"]["alpha"] == pytest.approx(0.3473, rel=0.005)
    code, out, _ = run(["predict", str(out_file), "--at", "n_params=7e10", "--at", "n_tokens=1.4e12", "--json"], capsys)
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 1 and rows[0]["lower"] < rows[0]["prediction"] < rows[0]["upper"]


def test_fit_json_on_bundled_data(capsys) -> None:
    code, out, _ = run(["fit", "chinchilla_epoch", "--law", "chinchilla", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["objective"] <= 0.00101828


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "/no/such/file.csv"], "no such file"),
        (["fit", "chinchilla_epoch", "--law", "chinchila"], "did you mean 'chinchilla'"),
        (["fit", "chinchilla_epoch", "--law", "__import__('os').getcwd()"], "not allowed"),
        (["fit", "chinchilla_epoch", "--column", "n_params"], "NAME=VALUE"),
        (["fit", "chinchilla_epoch", "--where", "nope == 1"], "nope"),
        (["fit", "chinchilla_epoch", "--fix", "E=abc"], "not a number"),
        (["predict", "/no/fit.json", "--at", "n_params=1"], "does not exist"),
        # a level no bootstrap reads is still refused, before any work
        (["fit", "chinchilla_epoch", "--level", "1.5"], "--level must lie strictly between 0 and 1, got 1.5"),
        # the target is checked before the sweep is fitted (no edge warning first)
        (["hparams", "misfitting_lr_sweep", "--points", "3", "-b", "5", "--n-params", "-1e9"],
         "--n-params must be a positive number"),
        # a bundled data set is named as typed, not by its path inside the install
        (["fit", "chinchilla_epoch", "--column", "n_params=nope"], "error: chinchilla_epoch: --column maps 'n_params'"),
        # held-out options the report would turn into "validation not run" (exit 0), or ignore
        (["report", "chinchilla_epoch", "--frac", "2", "-o", "/tmp/never.html"], "frac must lie strictly between 0 and 1 (--frac)"),
        (["report", "chinchilla_epoch", "--n", "0", "-o", "/tmp/never.html"], "--n must be at least 1"),
        (["compare", "chinchilla_epoch", "--candidate", "m4"], "give --law auto too"),
        (["plan", "/no/fit.json", "--flops", "1e21", "--head-dim", "0"], "--head-dim must be positive"),
        (["fit", "chinchilla_epoch", "--groups", "nope"], "--groups 'nope' is not a column"),
        # a mistyped data set name, not a file of unknown format ("cannot tell the format")
        (["fit", "chinchila_epoch"], ("error: chinchila_epoch: no such file, nor a bundled data set; did you mean "
                                      "'chinchilla_epoch'?")),
        (["report", "zzz", "-o", "/tmp/never.html"], "no such file, nor a bundled data set (bundled: chinchilla_epoch"),
    ],
)
def test_errors_are_one_line_with_status_2(args: list[str], needle: str, capsys) -> None:
    code, out, err = run(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]
    assert "Traceback" not in err


def test_corrupt_fit_file(tmp_path, capsys) -> None:
    bad = tmp_path / "fit.json"
    bad.write_text("{not json")
    code, _, err = run(["predict", str(bad), "--at", "n_params=1e9"], capsys)
    assert code == 2 and "not valid JSON" in err


def test_every_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        assert p.format_help().strip(), name
        assert p.description or p.format_usage()


def test_console_script_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "scalinglaws.cli", "fit", "--help"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0 and "--bootstrap" in proc.stdout


def _fit_file(tmp_path, capsys, bootstrap: str = "0") -> str:
    out_file = tmp_path / "fit.json"
    code, _, _ = run(["fit", "chinchilla_epoch", "--law", "chinchilla", "--bootstrap", bootstrap, "-o", str(out_file)],
                     capsys)
    assert code == 0
    return str(out_file)


def test_predict_with_unequal_at_lists_is_a_one_line_error(tmp_path, capsys) -> None:
    path = _fit_file(tmp_path, capsys)
    code, _, err = run(["predict", path, "--at", "n_params=1e9,2e9,4e9", "--at", "n_tokens=2e10,4e10"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == "error: --at lists must have the same number of values (or one value): n_params has 3, n_tokens has 2"
    # one value broadcasts against a list
    code, out, _ = run(["predict", path, "--at", "n_params=1e9,2e9", "--at", "n_tokens=2e10", "--json"], capsys)
    assert code == 0 and len(json.loads(out)) == 2


def test_hints_name_flags_not_python_keywords(capsys) -> None:
    from scalinglaws.cli.app import as_flags

    assert as_flags("drop it (where=...), or group nearby budgets with bins=...") == \
        "drop it (--where ...), or group nearby budgets with --bins ..."
    assert as_flags("pass noise=SD for a parametric bootstrap") == "pass --noise SD for a parametric bootstrap"
    assert as_flags("at n_params=7e10") == "at n_params=7e10"  # variables are not options
    assert as_flags("name it with load_runs(..., columns={'n_params': '<its name in your table>'})") == \
        "name it with --column n_params=<its name in your table>"
    assert "log the lr at every step" in as_flags("S1 and S2 are approximate: pass schedules= for exact areas")
    code, _, err = run(["fit", "chinchilla_epoch", "--law", "chinchilla", "--where", "loss > 100"], capsys)
    assert code == 2 and "where=" not in err and "bins=" not in err


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return " ".join(sub.choices[command].format_help().split())


def test_help_states_the_real_defaults() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for command in ("validate", "report", "compare"):
        assert sub.choices[command].get_default("bootstrap") == 200
        assert "bootstrap resamples (default 200)" in _help(command), command
    assert "bootstrap resamples (default 0)" in _help("fit")
    # one interval level everywhere: 90 %
    for command, p in sub.choices.items():
        if any(a.dest == "level" for a in p._actions):
            assert p.get_default("level") == 0.9, command
            assert "(default 0.9" in _help(command), command


def test_compare_names_free_parameters(capsys) -> None:
    code, out, _ = run(["compare", "chinchilla_epoch", "--law", "power", "--law", "m1", "--var", "x=flops",
                        "--bootstrap", "0", "--n", "20"], capsys)
    assert code == 0, out
    assert "free_params" in out and "n_params" not in out.splitlines()[1]


def test_a_closed_pipe_stops_quietly() -> None:
    """`scalinglaws laws | head -1`: the reader is gone; exit 141 as `yes | head` does, no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first write: every write fails
    proc = subprocess.Popen([sys.executable, "-m", "scalinglaws.cli", "laws"], stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"Error" not in err


def test_python_dash_m_scalinglaws_runs_the_command() -> None:
    out = subprocess.run([sys.executable, "-m", "scalinglaws", "--version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("scalinglaws "), out.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["plan", "fit.json", "--flops"], "argument --flops: expected one argument"),
        (["isoflop", "porian_isoflop", "--method", "nosuch"], "invalid choice: 'nosuch'"),
        (["laws", "nosuchlaw"], "invalid choice: 'nosuchlaw'"),
        (["downstream", "passk"], "required: DATA"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(args: list[str], needle: str, capsys) -> None:
    """argparse's own errors (a missing value, a bad choice) read like the library's: one
    ``error:`` line naming the problem and where the options are listed, no usage dump."""
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert info.value.code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: ") and needle in lines[0] and "--help` lists the options" in lines[0]


def test_a_negative_number_in_scientific_notation_is_a_value(tmp_path, capsys) -> None:
    """``--flops -1e21`` reaches the planner, which refuses it by name (argparse alone took
    ``-1e21`` for an option and said 'expected one argument')."""
    path = _fit_file(tmp_path, capsys)
    code, _, err = run(["plan", path, "--flops", "-1e21"], capsys)
    assert code == 2 and err.strip().startswith("error: flops must be a positive")
    code, _, err = run(["predict", path, "--at", "n_params=7e10", "--at", "n_tokens=-1.4e12"], capsys)
    assert code == 2 and "n_tokens must be positive" in err


def test_a_warning_raised_twice_is_printed_once(tmp_path, capsys) -> None:
    """The prediction and its interval both check the range: one ``warning:`` line."""
    path = _fit_file(tmp_path, capsys, bootstrap="20")
    code, out, err = run(["predict", path, "--at", "n_params=7e10", "--at", "n_tokens=1.4e12"], capsys)
    assert code == 0 and "interval" in out
    assert err.count("warning: beyond the fitted range") == 1, err


def test_plot_refuses_a_bad_resolution(capsys) -> None:
    code, _, err = run(["plot", "porian_isoflop", "--law", "chinchilla", "--dpi", "-5", "-o", "f.png"], capsys)
    assert code == 2 and err.strip() == "error: --dpi must be between 10 and 1200, got -5"


def test_curve_commands_take_a_bundled_curve_table() -> None:
    import argparse

    from scalinglaws.cli.curves import _read_curves

    args = argparse.Namespace(source="table", data=["misfitting_curves"], column=None, where="run == 'lr0.002_T2000'")
    table = _read_curves(args)
    assert set(table["run"]) == {"lr0.002_T2000"} and {"step", "loss", "lr"} <= set(table.columns)


def test_validate_does_not_warn_that_it_extrapolates(capsys) -> None:
    """Predicting the held-out larger runs is the test: no range warning for it."""
    code, out, err = run(["validate", "porian_isoflop", "--law", "chinchilla", "--bootstrap", "0", "--n", "6"], capsys)
    assert code == 0 and "Validation of chinchilla" in out
    assert "beyond the fitted range" not in err, err


def test_the_fit_report_names_the_fix_flag(tmp_path, capsys) -> None:
    """A poorly identified fit suggests pinning a parameter: on the command line that is
    ``--fix``, in the printed report as on stderr."""
    from scalinglaws.cli.app import as_flags

    assert as_flags("fix one (fixed=...) or add runs") == "fix one (--fix ...) or add runs"
    # five runs at 20 tokens per parameter: N and D move together, A and alpha are not identified
    data = tmp_path / "line.csv"
    data.write_text("n_params,n_tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7\n8e8,1.6e10,2.55\n1.6e9,3.2e10,2.45\n")
    code, out, err = run(["fit", str(data), "--law", "chinchilla", "--accept"], capsys)
    assert code == 0 and "poorly identified" in out
    assert "fixed=" not in out and "fixed=" not in err and "(--fix ...)" in out


def test_the_frontier_reads_as_values_with_intervals(tmp_path, capsys) -> None:
    """Several budgets print one row each, every quantity with its interval in brackets and
    the level in the header (it was a dump of 14 columns with _lo/_hi suffixes)."""
    path = _fit_file(tmp_path, capsys, bootstrap="20")
    code, out, _ = run(["plan", path, "--flops", "1e21,1e22", "--level", "0.8"], capsys)
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].split() == ["flops", "n_params", "(80%)", "n_tokens", "(80%)", "tokens_per_param", "(80%)", "loss", "(80%)"]
    assert "_lo" not in out and "at_search_bound" not in out
    assert lines[1].startswith("1e+21 ") and lines[1].count(" to ") == 4


def test_a_curve_fit_and_a_fit_of_runs_point_at_each_others_commands(tmp_path, capsys) -> None:
    """A saved curve fit given to predict (or a fit of runs to curves predict) says which command
    reads it, instead of 'this is not a scalinglaws fit'."""
    import scalinglaws as sl

    runs_fit = tmp_path / "fit.json"
    runs_fit.write_text(sl.Fit.from_params("power", {"E": 1.0, "A": 10.0, "alpha": 0.3}).to_json())
    curve_fit = tmp_path / "cf.json"
    assert main(["curves", "fit", "misfitting_curves", "--where", "run == 'lr0.002_T2000'", "--min-step", "250",
                 "-o", str(curve_fit)]) == 0
    capsys.readouterr()
    code, _, err = run(["predict", str(curve_fit), "--at", "x=1"], capsys)
    assert code == 2 and "is a loss-curve fit" in err and "scalinglaws curves predict" in err
    code, _, err = run(["curves", "predict", str(runs_fit), "--schedule", "cosine", "--peak", "1e-3", "--steps", "100"],
                       capsys)
    assert code == 2 and "is a fit of runs" in err and "scalinglaws curves fit" in err
