"""Layer 1, data: runs in. Readers, the runs table, the safe ``where`` evaluator,
bundled data sets and tracker imports. Imports nothing above it."""

from scalinglaws.data.runs import Runs, load_runs

__all__ = ["Runs", "load_runs"]
