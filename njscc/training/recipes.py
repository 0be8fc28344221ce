"""Training recipes: named bundles of defaults for a run (model, objective, training, data).

``njscc train --recipe NAME`` applies one; every flag given explicitly wins over it, and the
run records which recipe it used (``run.json``), so ``njscc eval`` can follow the recipe's test
protocol. Plugins add recipes through the ``njscc.recipes`` entry-point group.

* ``default`` — njscc's NECST: the official layout (``necst_mlp_tf``), the official bound
  (log-mean-exp of the K distortions) tempered to β = 1/4 with the encoder L2 scaled alike, a
  fresh permutation of the examples every epoch, the most probable code at test time. Chosen
  by the parity study (docs/necst_parity.md): never worse than the official code there.
* ``official`` — the official TF code (ermongroup/necst) as it is: ``necst_mlp_tf`` (a bias on
  the encoder's hidden layer, the decoder reading {0, 1}), its VIMCO construction on the
  positive SSE (``bound="upper"``), fixed consecutive batches in a fresh order every epoch, the
  first 10 000 training examples held out for validation, codes drawn from q(y|x) at test time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from njscc.registry import Registry

__all__ = ["RECIPES", "Recipe"]


@dataclass(frozen=True)
class Recipe:
    """Defaults for a training run (``None`` / empty: no opinion)."""

    model: str | None = None
    model_args: Mapping[str, Any] = field(default_factory=dict)
    objective: str | None = None
    objective_args: Mapping[str, Any] = field(default_factory=dict)
    train: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig fields
    valid_size: int = 0
    valid_split: str = "random"
    eval_code: str = "hard"  # test protocol: most probable code, or a code drawn from q(y|x)

    def build(self, **model_args: Any) -> tuple[Any, Any, dict[str, Any]]:
        """The recipe's ``(model, objective, TrainConfig fields)`` for the Python API, e.g.
        ``model, objective, train = RECIPES.get("default").build(m=100)`` then
        ``Trainer(model, objective, channel, data, TrainConfig(epochs=10, **train))``.
        ``model_args`` (``m``, ``data_shape``, ``likelihood``, ...) override the recipe's;
        seed ``torch`` first for a reproducible initialisation."""
        from njscc import models, objectives

        model = models.get(self.model or "necst_mlp", **{**self.model_args, **model_args})
        name = self.objective or objectives.default_for(model)
        args = dict(self.objective_args) if name == self.objective else {}
        return model, objectives.get(name, **args), dict(self.train)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_args": dict(self.model_args),
                "objective": self.objective, "objective_args": dict(self.objective_args),
                "train": dict(self.train), "valid_size": self.valid_size,
                "valid_split": self.valid_split, "eval_code": self.eval_code}


#: the recipe registry (entry-point group ``njscc.recipes``): name → ``() -> Recipe``
RECIPES: Registry[Recipe] = Registry("recipe", "njscc.recipes", strict_config=False)
RECIPES.register(
    "default",
    lambda: Recipe(model="necst_mlp_tf", objective="vimco",
                   objective_args={"bound": "upper", "loglik_scale": 0.25},
                   train={"shuffle": "examples", "encoder_l2": 2.5e-5}, eval_code="hard"),
    summary="njscc's NECST: the official layout, the official bound tempered to β = 1/4")
RECIPES.register(
    "official",
    lambda: Recipe(model="necst_mlp_tf", objective="vimco", objective_args={"bound": "upper"},
                   train={"shuffle": "batches"}, valid_size=10000, valid_split="first",
                   eval_code="sample"),
    summary="the official TF NECST code as it is (ermongroup/necst)")
