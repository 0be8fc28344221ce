"""Training: the :class:`Trainer`, its config, checkpoints, seeds and distributed runs.

* :mod:`~njscc.training.trainer` — :class:`Trainer`, :class:`TrainConfig`;
* :mod:`~njscc.training.checkpoint` — safetensors checkpoints (``load_model`` rebuilds a model);
* :mod:`~njscc.training.runs` — :func:`fit_codec`: build by name, train, resume;
* :mod:`~njscc.training.seeds` — :func:`mix_seed` and the multi-seed run layout;
* :mod:`~njscc.training.distributed` — ``torchrun`` support.
"""

from njscc.training.checkpoint import find_checkpoint, load_checkpoint, load_model, save_checkpoint
from njscc.training.distributed import DistInfo, distributed_context
from njscc.training.seeds import mix_seed, seed_dir, seed_runs
from njscc.training.trainer import CSV_COLUMNS, TrainConfig, Trainer, format_row

__all__ = ["CSV_COLUMNS", "DistInfo", "TrainConfig", "Trainer", "distributed_context",
           "find_checkpoint", "format_row", "load_checkpoint", "load_model", "mix_seed",
           "save_checkpoint", "seed_dir", "seed_runs"]
