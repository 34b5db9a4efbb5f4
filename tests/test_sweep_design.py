"""Sweep designs: the grid rule, FLOP accounting, schedules and the TOML file (no torch)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings

import pytest

from scalinglaws.errors import ScalingLawsError, ScalingLawsWarning
from scalinglaws.sweep import (
    DataSpec,
    RunSpec,
    SweepDesign,
    SweepError,
    count_params,
    design_sweep,
    flops_per_token,
    from_toml,
    read_design,
    shape_for_params,
    to_toml,
    write_design,
)
from scalinglaws.sweep.design import default_batch_size, default_lr
from scalinglaws.sweep.schedule import lr_at


def test_grid_has_every_budget_and_size_and_spends_the_budget() -> None:
    design = design_sweep([1e11, 3e11, 1e12], 5)
    assert len(design.runs) == 15
    assert design.budgets == (1e11, 3e11, 1e12)
    for budget in design.budgets:
        runs = [r for r in design.runs if r.budget == budget]
        sizes = [r.params[0] for r in runs]
        assert sizes == sorted(sizes) and len(set(sizes)) == 5
        tokens = [r.n_tokens for r in runs]
        assert tokens == sorted(tokens, reverse=True)  # bigger model, fewer tokens
        for run in runs:
            spent = run.flops_per_token() * run.n_steps * run.tokens_per_step
            # rounding to whole steps: within half a step of the budget
            assert abs(spent - budget) <= 0.5 * run.flops_per_token() * run.tokens_per_step
            assert run.lr == pytest.approx(default_lr(budget), rel=1e-2)
            assert run.batch_size == default_batch_size(budget, run.seq_len)


def test_exact_convention_trains_fewer_tokens_for_attention_heavy_models() -> None:
    six = design_sweep([1e12], 3, flop_convention="6nd")
    exact = design_sweep([1e12], 3, flop_convention="exact")
    for a, b in zip(six.runs, exact.runs):
        assert (a.n_layer, a.d_model) == (b.n_layer, b.d_model)
        assert b.flop_convention == "exact"
        assert b.n_tokens < a.n_tokens  # tiny models: attention and logits cost > 6N


def test_explicit_lr_and_batch_override_the_rule() -> None:
    design = design_sweep([1e11, 1e12], 2, lr=3e-3, batch_size=4, seq_len=64, schedule="wsd")
    assert {r.lr for r in design.runs} == {3e-3}
    assert {r.batch_size for r in design.runs} == {4}
    assert {(r.seq_len, r.schedule) for r in design.runs} == {(64, "wsd")}
    assert design.rule["lr_rule"] == "fixed"


def test_tokens_per_param_moves_the_centre_of_the_grid() -> None:
    small = design_sweep([1e12], 1, tokens_per_param=200)
    large = design_sweep([1e12], 1, tokens_per_param=5)
    assert small.runs[0].params[0] < large.runs[0].params[0]


def test_sizes_that_round_to_one_shape_are_merged_with_a_warning() -> None:
    with pytest.warns(ScalingLawsWarning, match="distinct shapes"):
        design = design_sweep([1e9], 5)
    assert 1 <= len(design.runs) < 5


def test_count_params_and_flops() -> None:
    total, nonemb = count_params(2, 64, vocab_size=256, seq_len=128)
    assert nonemb == 2 * (12 * 64 * 64 + 2 * 64) + 64
    assert total - nonemb == (256 + 128) * 64
    assert flops_per_token(2, 64, n_head=4) == 6 * total
    exact = flops_per_token(2, 64, n_head=4, convention="exact")
    forward = 2 * 256 * 64 * 2 + 2 * (24 * 64 * 64 + 4 * 128 * 64 + 3 * 4 * 128)
    assert exact == 3 * forward
    with pytest.raises(SweepError, match="convention"):
        flops_per_token(2, 64, n_head=4, convention="kaplan")  # type: ignore[arg-type]


@pytest.mark.parametrize("n_params", [5e3, 3e4, 1e5, 1e6, 3e7])
def test_shape_rule_hits_the_target_size(n_params: float) -> None:
    n_layer, d_model, n_head = shape_for_params(n_params, aspect_ratio=32, head_dim=8)
    assert d_model == 8 * n_head and n_layer >= 1
    total, _ = count_params(n_layer, d_model)
    assert abs(math.log(total / n_params)) < 0.5


def test_run_id_is_a_stable_content_hash() -> None:
    run = design_sweep([1e11], 1).runs[0]
    again = RunSpec(**{f.name: getattr(run, f.name) for f in dataclasses.fields(run)})
    assert again.run_id == run.run_id and len(run.run_id) == 16
    assert dataclasses.replace(run, seed=1).run_id != run.run_id
    assert dataclasses.replace(run, data=DataSpec(max_bytes=10_000)).run_id != run.run_id
    # An integer budget hashes like the float one (TOML may give either).
    assert dataclasses.replace(run, budget=int(run.budget)).run_id == run.run_id


def test_toml_round_trip(tmp_path: pytest.TempPathFactory) -> None:
    design = design_sweep([1e11, 3e11], 3, flop_convention="exact", seed=7,
                          data=DataSpec(corpus="/some/folder", max_bytes=2_000_000))
    path = write_design(design, tmp_path / "sweep.toml")  # type: ignore[operator]
    back = read_design(path)
    assert back == design
    assert [r.run_id for r in back.runs] == [r.run_id for r in design.runs]


def test_edited_toml_overrides_per_run_and_changes_the_id() -> None:
    design = design_sweep([1e11], 2)
    text = to_toml(design)
    edited = text.replace("[[runs]]\n", "[[runs]]\nlr = 0.001\nschedule = \"constant\"\n", 1)
    edited = edited.replace("lr = 0.0131\n", "", 1)  # the run's own lr line gives way
    back = from_toml(edited)
    assert back.runs[0].lr == 0.001 and back.runs[0].schedule == "constant"
    assert back.runs[0].run_id != design.runs[0].run_id
    assert back.runs[1] == design.runs[1]


RUN = "[[runs]]\nbudget=1e9\nn_layer=1\nd_model=8\nn_head=1\nn_tokens=10\nbatch_size=1\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[[runs]]\nbudget = 1e9\n", "missing"),
        ("[[runs]\n", "not valid TOML"),
        ("[defaults]\nseq_len = 64\n", "no \\[\\[runs\\]\\]"),
        (RUN + "lr=0.1\nlearning_rate=0.1\n", "unknown key"),
        (RUN.replace("n_head=1", "n_head=3") + "lr=0.1\n", "multiple of n_head"),
        (RUN + "lr=-1.0\n", "run 1: lr"),
        (RUN + "lr=0.1\nschedule='linear'\n", "schedule"),
        (RUN + "lr=0.1\n[runs.data]\npath='x'\n", "unknown data key"),
        ("[sweeps]\n", "unknown table"),
    ],
)
def test_bad_design_files_name_the_problem(text: str, match: str) -> None:
    with pytest.raises(SweepError, match=match) as info:
        from_toml(text)
    assert isinstance(info.value, ScalingLawsError)


def test_missing_design_file(tmp_path: pytest.TempPathFactory) -> None:
    with pytest.raises(SweepError, match="does not exist"):
        read_design(tmp_path / "nope.toml")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budgets": []}, "at least one"),
        ({"budgets": [-1.0]}, "budget"),
        ({"budgets": [1e11], "flop_convention": "kaplan"}, "flop_convention"),
        ({"budgets": [1e11], "spread": 0.5}, "spread"),
        ({"budgets": [1e11], "bogus": 1}, "unknown run option"),
        ({"budgets": [1e11], "sizes_per_budget": 0}, "sizes_per_budget"),
    ],
)
def test_bad_design_arguments(kwargs: dict[str, object], match: str) -> None:
    with warnings.catch_warnings(), pytest.raises(SweepError, match=match):
        warnings.simplefilter("ignore")
        design_sweep(**kwargs)  # type: ignore[arg-type]


def test_duplicate_runs_are_refused() -> None:
    run = design_sweep([1e11], 1).runs[0]
    with pytest.raises(SweepError, match="twice"):
        SweepDesign(runs=(run, run))


@pytest.mark.parametrize("schedule", ["cosine", "wsd", "constant", "step"])
def test_schedules_warm_up_then_stay_within_bounds(schedule: str) -> None:
    lrs = [lr_at(s, 100, peak=1.0, schedule=schedule, warmup_frac=0.1, min_lr_ratio=0.1)
           for s in range(100)]
    assert lrs[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert max(lrs) == pytest.approx(1.0)
    assert all(0.1 - 1e-12 <= lr <= 1.0 for lr in lrs[10:])
    after = lrs[10:]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(after))  # never rises
    assert lrs[-1] == pytest.approx(1.0 if schedule == "constant" else 0.1)
    if schedule == "wsd":
        assert lrs[79] == 1.0 and lrs[80] < 1.0  # 20% cooldown


def test_step_decay_drops_at_half_and_three_quarters_to_the_floor() -> None:
    lrs = [lr_at(s, 100, peak=1.0, schedule="step", warmup_frac=0.1, min_lr_ratio=0.1)
           for s in range(100)]
    assert lrs[10:50] == [1.0] * 40
    assert lrs[50:75] == pytest.approx([math.sqrt(0.1)] * 25)
    assert lrs[75:] == pytest.approx([0.1] * 25)
    from scalinglaws.dynamics.schedules import step

    library = step(1.0, 100, milestones=(0.5, 0.75), gamma=math.sqrt(0.1), warmup=10)
    assert lrs == pytest.approx(library.tolist())  # the curve laws see the same schedule


@pytest.mark.parametrize("frac", [0.1, 0.3])
def test_wsd_cooldown_fraction(frac: float) -> None:
    lrs = [lr_at(s, 100, peak=1.0, schedule="wsd", warmup_frac=0.05, cooldown_frac=frac)
           for s in range(100)]
    start = 100 - round(100 * frac)
    assert lrs[start - 1] == 1.0 and lrs[start] < 1.0 and lrs[-1] == pytest.approx(0.1)
    run = design_sweep([1e11], 1, schedule="wsd", cooldown_frac=frac).runs[0]
    assert run.cooldown_frac == frac
    assert from_toml(to_toml(SweepDesign(runs=(run,)))).runs[0] == run


def test_new_fields_at_their_defaults_keep_old_run_ids() -> None:
    """Runs designed before cooldown_frac, parent and branch_step existed keep their ids:
    the bundled tiny sweep's design still names the runs in its store."""
    from importlib import resources

    from scalinglaws.sweep.store import done_ids

    bundled = resources.files("scalinglaws.data") / "bundled"
    with resources.as_file(bundled / "tiny_sweep.toml") as toml, \
            resources.as_file(bundled / "tiny_sweep.db") as db:
        ids = {run.run_id for run in read_design(toml).runs}
        assert ids and ids <= done_ids(db)
    run = design_sweep([1e11], 1).runs[0]
    assert dataclasses.replace(run, cooldown_frac=0.3).run_id != run.run_id


@pytest.mark.parametrize(("changes", "match"), [
    ({"branch_step": 3}, "no parent"),
    ({"parent": "xyz", "branch_step": 3}, "16-hex"),
    ({"parent": "0123456789abcdef", "branch_step": 0}, "branch_step must be between"),
    ({"parent": "0123456789abcdef", "branch_step": 10**9}, "branch_step must be between"),
    ({"cooldown_frac": 0.0}, "cooldown_frac"),
    ({"cooldown_frac": 1.5}, "cooldown_frac"),
])
def test_bad_branch_fields_name_the_problem(changes: dict[str, object], match: str) -> None:
    run = design_sweep([1e11], 1).runs[0]
    with pytest.raises(SweepError, match=match):
        dataclasses.replace(run, **changes)
