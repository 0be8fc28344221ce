"""Training recipes: named bundles of defaults for a run (model, objective, training, data).

``njscc train --recipe NAME`` applies one; every flag given explicitly wins over it, and the
run records which recipe it used (``run.json``), so ``njscc eval`` can follow the recipe's test
protocol. Plugins add recipes through the ``njscc.recipes`` entry-point group.

* ``default`` — njscc's NECST: ``necst_mlp`` (bipolar decoder input, no biases), the K-sample
  lower bound (VIMCO), a fresh permutation of the examples every epoch, the most probable code
  at test time.
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

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "model_args": dict(self.model_args),
                "objective": self.objective, "objective_args": dict(self.objective_args),
                "train": dict(self.train), "valid_size": self.valid_size,
                "valid_split": self.valid_split, "eval_code": self.eval_code}


#: the recipe registry (entry-point group ``njscc.recipes``): name → ``() -> Recipe``
RECIPES: Registry[Recipe] = Registry("recipe", "njscc.recipes", strict_config=False)
RECIPES.register("default", Recipe, summary="njscc's NECST (lower bound, bipolar decoder input)")
RECIPES.register(
    "official",
    lambda: Recipe(model="necst_mlp_tf", objective="vimco", objective_args={"bound": "upper"},
                   train={"shuffle": "batches"}, valid_size=10000, valid_split="first",
                   eval_code="sample"),
    summary="the official TF NECST code as it is (ermongroup/necst)")
