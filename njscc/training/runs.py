"""Build a codec and an objective by name, train them, resume a run that already exists."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from njscc.training.trainer import TrainConfig, Trainer, format_row

__all__ = ["fit_codec", "history_summary"]


def fit_codec(
    model_name: str,
    model_kwargs: Mapping[str, Any],
    objective_name: str,
    objective_kwargs: Mapping[str, Any],
    train_data: Any,
    out: str | os.PathLike[str],
    *,
    epochs: int,
    batch_size: int = 100,
    lr: float = 1e-3,
    seed: int = 0,
    test_data: Any = None,
    channel: Any = None,
    encoder_l2: float = 0.0,
    max_seconds: float | None = None,
    device: str | None = None,
    run_info: Mapping[str, Any] | None = None,
    resume: bool = True,
    quiet: bool = True,
    log: Any = None,
    valid_data: Any = None,
    patience: int | None = None,
    prepare: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Train one registered codec with one registered objective (the shared :class:`Trainer`).

    The model is built right after ``torch.manual_seed(seed)`` (seeded initialisation). If
    ``out`` already has a checkpoint and ``resume``, training continues from it (a finished run
    is not retrained). ``channel`` is the training channel of codecs whose latent crosses one
    (``None``: noiseless / no channel). ``device``: where to train (``auto``/``None``: CUDA
    when available). ``log`` (any callable) turns on one line per epoch. With ``valid_data``
    every epoch is scored on it and the *best* epoch's weights are the ones returned (and kept
    as ``checkpoints/best``); ``patience`` stops early (:class:`Trainer`). A SIGINT/SIGTERM
    during training saves the checkpoint and raises ``KeyboardInterrupt``, so a study that
    trains several models stops as a whole (rerun it to resume). ``prepare(model)`` runs on
    the freshly built model before training starts (a data-dependent initialisation, e.g.
    MFCVAE's mixture prior); it is skipped when a checkpoint is resumed.

    Returns ``{"model", "history", "trainer", "out", "seconds"}``.
    """
    from njscc import models, objectives
    from njscc.validation import check_device

    out = Path(out)
    torch.manual_seed(seed)
    model = models.get(model_name, **dict(model_kwargs))
    resuming = resume and (out / "checkpoints").exists()
    if prepare is not None and not resuming:
        prepare(model)
    objective = objectives.get(objective_name, **dict(objective_kwargs))
    cfg = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, encoder_l2=encoder_l2,
                      seed=seed, test_every=1 if test_data is not None else 0,
                      max_seconds=max_seconds, patience=patience)
    info = {"objective": {"name": objective_name, "kwargs": dict(objective_kwargs)},
            **dict(run_info or {})}
    on_epoch = None
    if log is not None:
        def on_epoch(row: dict[str, Any]) -> None:
            print(format_row(row, cfg.epochs), file=sys.stderr, flush=True)
    trainer = Trainer(model, objective, channel, train_data, cfg, test_data=test_data,
                      valid_data=valid_data, out_dir=out, device=check_device(device),
                      run_info=info, quiet=quiet,
                      on_epoch=on_epoch)
    trainer.run_info.setdefault("n_train", len(trainer.train_data))
    if resuming:
        trainer.resume()
    t0 = time.perf_counter()
    history = trainer.fit()
    if trainer.stop_reason == "signal":
        # Ctrl-C / SIGTERM: the checkpoint is saved; stop the whole study, not only this model
        raise KeyboardInterrupt(f"stopped by a signal; checkpoint saved in {out} (resumable)")
    best = out / "checkpoints" / "best"
    if valid_data is not None and best.exists():
        from njscc.training.checkpoint import load_checkpoint

        model.load_state_dict(load_checkpoint(best, map_location=trainer.device).state_dict)
    model.eval()
    return {"model": model, "history": history, "trainer": trainer, "out": out,
            "seconds": time.perf_counter() - t0}


def history_summary(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Epochs, total training seconds and the last row's statistics."""
    if not history:
        return {"epochs": 0, "train_seconds": 0.0}
    return {"epochs": int(history[-1]["epoch"]),
            "train_seconds": float(sum(r.get("epoch_seconds") or 0.0 for r in history)),
            "last_epoch": {k: v for k, v in history[-1].items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)}}
