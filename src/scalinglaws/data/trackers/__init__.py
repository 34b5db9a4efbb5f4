"""Runs and loss curves in and out of experiment trackers: MLflow and Weights & Biases.

Read
    - :func:`read_mlflow_runs` / :func:`read_mlflow_curves`: an MLflow tracking store
      through the ``mlflow`` client (``sqlite:///mlflow.db``, a server URI, a ``.db``
      file), or an ``mlruns/`` folder in the deprecated file-store layout, read without it;
    - :func:`read_wandb_runs` / :func:`read_wandb_curves`: W&B offline run files
      (``wandb/offline-run-*/run-*.wandb``, decoded with the ``wandb`` package's protobuf
      classes), or W&B CSV exports (runs table, panel, history), read without it.

Write
    :func:`log_runs`: runs and their curves to ``"mlflow:<tracking uri>"`` or
    ``"wandb:offline[:<folder>]"``.

Curves come back as the long table of :func:`scalinglaws.dynamics.curves.load_curves`
(columns ``run``, ``step``, ``loss``, ``lr``), runs as :class:`scalinglaws.Runs`. The
clients are optional extras: ``pip install 'scalinglaws[mlflow]'`` / ``'scalinglaws[wandb]'``.
"""

from scalinglaws.data.trackers.mlflow_reader import read_mlflow_curves, read_mlflow_runs
from scalinglaws.data.trackers.wandb_reader import read_wandb_curves, read_wandb_runs
from scalinglaws.data.trackers.writers import log_runs

__all__ = ["log_runs", "read_mlflow_curves", "read_mlflow_runs", "read_wandb_curves", "read_wandb_runs"]
