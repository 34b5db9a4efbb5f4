"""Cooldown branches: one constant-LR trunk per size, short cooldowns from its checkpoints."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

import scalinglaws as sl
from scalinglaws.sweep import (
    DataSpec,
    RunSpec,
    SweepDesign,
    SweepError,
    read_curves,
    read_runs,
)
from scalinglaws.sweep.branches import BranchCost, branch_cost, design_branches
from scalinglaws.sweep.designfile import from_toml, to_toml

DATA = DataSpec(corpus="devils-dictionary")
SMALL = {"seq_len": 32, "batch_size": 4, "lr": 3e-3, "n_evals": 5, "eval_tokens": 1024,
         "data": DATA}


def small_design() -> SweepDesign:
    """Two sizes, three budgets: 2 trunks (97 and 38 steps) and 6 branches."""
    return design_branches([5e8, 1e9, 2e9], [2e4, 5e4], **SMALL)  # type: ignore[arg-type]


def test_design_lays_branches_on_budgets_with_their_trunk() -> None:
    design = small_design()
    trunks = [r for r in design.runs if not r.parent]
    branches = [r for r in design.runs if r.parent]
    assert len(trunks) == 2 and len(branches) == 6
    for trunk in trunks:
        mine = [b for b in branches if b.parent == trunk.run_id]
        assert sorted(b.budget for b in mine) == [5e8, 1e9, 2e9]
        assert trunk.schedule == "constant"
        assert trunk.n_steps == max(b.branch_step for b in mine)  # the trunk stops there
        for b in mine:
            assert (b.n_layer, b.d_model, b.lr, b.batch_size) == (
                trunk.n_layer, trunk.d_model, trunk.lr, trunk.batch_size)
            assert b.schedule == "wsd" and b.n_steps - b.branch_step == round(0.2 * b.n_steps)
            # the cooldown starts exactly at the branch point
            from scalinglaws.sweep.schedule import lr_at

            lrs = [lr_at(s, b.n_steps, peak=1.0, schedule="wsd", cooldown_frac=b.cooldown_frac)
                   for s in (b.branch_step - 1, b.branch_step)]
            assert lrs[0] == 1.0 and lrs[1] < 1.0
            spent = b.flops_per_token() * b.n_tokens
            assert abs(spent - b.budget) <= 0.5 * b.flops_per_token() * b.tokens_per_step
    assert from_toml(to_toml(design)) == design  # the design file keeps the branches


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"budgets": [], "sizes": [2e4]}, "at least one"),
    ({"budgets": [1e9], "sizes": [2e4], "schedule": "cosine"}, "sets"),
    ({"budgets": [1e5], "sizes": [2e4]}, "too few to branch"),
    ({"budgets": [3e7, 4e9], "sizes": [2e4], "warmup_frac": 0.1}, "warmup"),
    ({"budgets": [1e9], "sizes": [2e4], "cooldown_frac": 1.5}, "cooldown_frac"),
])
def test_bad_branch_designs_name_the_problem(kwargs: dict[str, object], match: str) -> None:
    options = {**SMALL, **kwargs}
    with pytest.raises(SweepError, match=match):
        design_branches(**options)  # type: ignore[arg-type]


def test_cli_designs_branches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from scalinglaws.cli.app import main

    out = tmp_path / "branches.toml"
    assert main(["sweep", "design", "--budgets", "5e8,1e9,2e9", "--branch-sizes", "2e4,5e4",
                 "--seq-len", "32", "--batch-size", "4", "--lr", "3e-3", "--n-evals", "5",
                 "--eval-tokens", "1024", "--data", "devils-dictionary", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    from scalinglaws.sweep import read_design

    assert read_design(out) == small_design()  # the same design as from Python
    assert "a branch of run" in out.read_text()
    assert main(["sweep", "design", "--budgets", "1e11", "--sizes-per-budget", "1",
                 "--schedule", "wsd", "--cooldown-frac", "0.3", "-o", str(out), "--force"]) == 0
    assert read_design(out).runs[0].cooldown_frac == 0.3


def test_branch_cost_of_a_table() -> None:
    table = pd.DataFrame({"n_tokens": [100, 60, 80, 50], "flops": [10.0, 6.0, 8.0, 5.0],
                          "trained_tokens": [100, 20, 30, None],
                          "role": ["trunk", "branch", "branch", "run"]})
    cost = branch_cost(table)
    assert (cost.n_points, cost.n_trunks) == (3, 1)
    assert cost.tokens_spent == 100 + 20 + 30 + 50  # an old row (None): from scratch
    assert cost.tokens_from_scratch == 60 + 80 + 50
    assert cost.ratio == pytest.approx((10 + 2 + 3 + 5) / (6 + 8 + 5))
    assert "ratio" in repr(cost) and cost.to_dict()["ratio"] == cost.ratio
    with pytest.raises(SweepError, match="trained_tokens"):
        branch_cost(table.drop(columns="trained_tokens"))


torch = pytest.importorskip("torch")


def test_branch_sweep_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two sizes x three branches, trained by the local backend (two workers, so a branch
    must wait for its trunk), read by chinchilla and the IsoFLOP grouping, its cost
    counted exactly. The fit's quality is not checked: these runs are tiny."""
    from scalinglaws.sweep import run_sweep

    design = small_design()
    store = tmp_path / "runs.db"
    report = run_sweep(design, store, workers=2, device="cpu", threads=1, progress=False)
    assert not report.failed and len(report.done) == 8
    runs = read_runs(store).set_index("run_id")
    assert sorted(runs["role"]) == ["branch"] * 6 + ["trunk"] * 2
    tokens_spent = tokens_scratch = 0
    curves = read_curves(store)
    for spec in design.runs:
        row = runs.loc[spec.run_id]
        assert row["n_tokens"] == spec.n_steps * spec.tokens_per_step
        if not spec.parent:
            tokens_spent += spec.n_tokens
            assert row["trained_tokens"] == spec.n_tokens and pd.isna(row["parent"])
            continue
        cooldown = (spec.n_steps - spec.branch_step) * spec.tokens_per_step
        tokens_spent += cooldown
        tokens_scratch += spec.n_tokens
        assert row["parent"] == spec.parent and row["branch_step"] == spec.branch_step
        assert row["trained_tokens"] == cooldown
        # the branch's curve is the trunk's up to the branch point, then its own
        mine = curves[curves.run_id == spec.run_id].set_index("step")
        trunk = curves[curves.run_id == spec.parent].set_index("step")
        before = mine.index[mine.index <= spec.branch_step]
        assert len(before) and (mine.loc[before, "loss"] == trunk.loc[before, "loss"]).all()
        assert mine.index.max() == spec.n_steps
        assert mine["lr"].iloc[-1] == pytest.approx(0.1 * spec.lr)
    cost = branch_cost(store)
    assert isinstance(cost, BranchCost) and (cost.n_points, cost.n_trunks) == (6, 2)
    assert cost.tokens_spent == tokens_spent and cost.tokens_from_scratch == tokens_scratch
    assert 0 < cost.ratio < 1
    planned = branch_cost(design)  # the same cost, known before training
    assert (planned.tokens_spent, planned.tokens_from_scratch) == (tokens_spent, tokens_scratch)
    assert planned.ratio == pytest.approx(cost.ratio, rel=1e-12)
    assert not (tmp_path / "runs.db.ckpt").exists()  # trunks' branch points dropped at the end

    from scalinglaws.cli.app import main

    assert main(["sweep", "status", str(store)]) == 0  # the summary gives the cost ratio
    assert f"{cost.ratio:.2f} x the" in capsys.readouterr().out

    points = sl.load_runs(store, where="role != 'trunk'")
    assert len(points) == 6
    fit = sl.fit(points, "chinchilla")
    assert all(math.isfinite(v) for v in fit.params.values())
    # IsoFLOP profiles group the branches by their designed budgets (a profile needs 3+
    # sizes, more than this test trains, so the grouping is checked, not a fit)
    from scalinglaws.plan.profiles import prepare

    _, sizes, tokens, _, budgets, _ = prepare(points)
    assert sorted(set(budgets)) == [5e8, 1e9, 2e9] and len(set(sizes)) == 2
    assert sorted(tokens) == sorted(float(r.n_tokens) for r in design.runs if r.parent)


def test_a_branch_continues_its_parent_bit_for_bit(tmp_path: Path) -> None:
    """A 'branch' that keeps its parent's own schedule and length ends exactly where the
    parent does: model, optimizer, RNG and data position all come from the checkpoint."""
    from scalinglaws.sweep import checkpoint
    from scalinglaws.sweep.train import train

    parent = RunSpec(budget=1.0, n_layer=1, d_model=16, n_head=2, n_tokens=60 * 128,
                     batch_size=4, lr=3e-3, seq_len=32, n_evals=4, eval_tokens=1024,
                     schedule="constant", data=DATA)
    whole = train(parent, device="cpu", threads=1, checkpoint_dir=tmp_path / parent.run_id,
                  keep_steps=frozenset({20, 40}))
    assert sorted(p.name for p in (tmp_path / parent.run_id).glob("step-*.pt")) == [
        "step-000000020.pt", "step-000000040.pt", "step-000000045.pt"]
    branch = dataclasses.replace(parent, parent=parent.run_id, branch_step=20)
    again = train(branch, device="cpu", threads=1,
                  branch_from=checkpoint.branch_point(tmp_path / parent.run_id, 20))
    assert again.loss == whole.loss
    assert [p.eval_loss for p in again.curve] == [p.eval_loss for p in whole.curve]
    assert again.resumed_from_step == 0 and again.to_row()[0]["trained_tokens"] == 40 * 128
    with pytest.raises(SweepError, match="does not exist"):
        train(dataclasses.replace(branch, branch_step=30), device="cpu", threads=1,
              branch_from=checkpoint.branch_point(tmp_path / parent.run_id, 30))
    wider = dataclasses.replace(branch, d_model=32, n_head=4)
    with pytest.raises(SweepError, match="shape"):
        train(wider, device="cpu", threads=1,
              branch_from=checkpoint.branch_point(tmp_path / parent.run_id, 20))


def test_branches_need_their_parent_and_checkpoints(tmp_path: Path) -> None:
    from scalinglaws.sweep import run_sweep

    design = small_design()
    orphans = SweepDesign(runs=tuple(r for r in design.runs if r.parent))
    with pytest.raises(SweepError, match="neither in the design nor in the store"):
        run_sweep(orphans, tmp_path / "a.db", device="cpu", progress=False)
    with pytest.raises(SweepError, match="checkpoint-every 0"):
        run_sweep(design, tmp_path / "b.db", device="cpu", progress=False, checkpoint_every=0)


def test_old_stores_read_with_empty_branch_columns() -> None:
    """The bundled tiny sweep was written by version 2 of the store, before branches."""
    from importlib import resources

    with resources.as_file(resources.files("scalinglaws.data") / "bundled" /
                           "tiny_sweep.db") as db:
        runs = read_runs(db)
    assert len(runs) == 10 and set(runs["role"]) == {"run"}
    assert runs["parent"].isna().all() and runs["trained_tokens"].isna().all()
    assert branch_cost(runs).ratio == pytest.approx(1.0)


def test_a_version_2_store_gains_the_branch_columns_on_write(tmp_path: Path) -> None:
    import shutil
    import sqlite3
    from importlib import resources

    from scalinglaws.sweep.store import write_run

    store = tmp_path / "v2.db"
    with resources.as_file(resources.files("scalinglaws.data") / "bundled" /
                           "tiny_sweep.db") as db:
        shutil.copyfile(db, store)
    row = read_runs(store).iloc[0].drop(labels="role").to_dict()
    row.update(run_id="0123456789abcdef", spec="{}", parent="fedcba9876543210",
               branch_step=5, trained_tokens=64)
    assert write_run(store, row, [(10, 1000, 3.9, 0.01, 512)])
    runs = read_runs(store).set_index("run_id")
    assert runs.loc["0123456789abcdef", ["parent", "branch_step", "trained_tokens"]].tolist() == [
        "fedcba9876543210", 5, 64]
    assert runs.drop(index="0123456789abcdef")["parent"].isna().all()  # old rows: empty
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()[0] == "3"
