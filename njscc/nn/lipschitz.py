"""Lipschitz-constrained layers: Björck-orthonormalised linear maps and GroupSort.

A :class:`BjorckLinear` layer uses, in every forward pass, its weight made (nearly)
orthonormal by ``iters`` steps of Björck & Bowie's iteration W ← W(1.5·I − 0.5·WᵀW), started
from W scaled so that its spectral norm is ≤ 1 (divided by √(‖W‖₁‖W‖∞)). Each step maps every
singular value s ∈ [0, 1] to 1.5·s − 0.5·s³ ∈ [0, 1], so the effective weight's spectral norm
is ≤ 1 after *any* number of steps — the constraint never depends on convergence — and tends
to 1 (all singular values) as the steps increase. :class:`GroupSort` (Anil, Lucas & Grosse
2019) sorts each group of units: a 1-Lipschitz, gradient-norm-preserving activation.

:func:`lipschitz_mlp` stacks them and scales the output by a constant L, so the network is
L-Lipschitz in L2 by construction; :func:`lipschitz_upper_bound` returns the *measured* bound
(product of the effective weights' spectral norms times the scales), which is what
certificates should use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["BjorckLinear", "GroupSort", "Scale", "bjorck", "lipschitz_mlp",
           "lipschitz_upper_bound"]


def bjorck(w: Tensor, iters: int) -> Tensor:
    """``w`` ``[out, in]`` → nearly orthonormal weight of the same shape, spectral norm ≤ 1."""
    scale = torch.sqrt(w.abs().sum(0).max() * w.abs().sum(1).max()).clamp_min(1e-12)
    w = w / scale
    tall = w.shape[0] >= w.shape[1]
    for _ in range(iters):
        if tall:  # W (1.5 I − 0.5 WᵀW): the Gram matrix on the smaller side
            w = 1.5 * w - 0.5 * w @ (w.T @ w)
        else:
            w = 1.5 * w - 0.5 * (w @ w.T) @ w
    return w


class BjorckLinear(nn.Linear):
    """``nn.Linear`` whose forward uses :func:`bjorck` of its weight (``iters`` steps)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 iters: int = 5) -> None:
        super().__init__(in_features, out_features, bias)
        if iters < 1:
            raise ValueError(f"iters must be >= 1, got {iters}")
        self.iters = int(iters)
        nn.init.orthogonal_(self.weight)
        self._cache: tuple[tuple[int, int], Tensor] | None = None

    def effective_weight(self) -> Tensor:
        """The Björck-orthonormalised weight; cached while the layer is frozen (eval mode,
        weight not requiring grad) — attacks and certificates call it thousands of times."""
        if self.training or self.weight.requires_grad:
            return bjorck(self.weight, self.iters)
        key = (self.weight._version, self.weight.data_ptr())
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, bjorck(self.weight, self.iters))
        return self._cache[1]

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)


class GroupSort(nn.Module):
    """Sort the features ``[..., n]`` within consecutive groups of ``group`` (n divisible);
    ``group=2`` is MaxMin."""

    def __init__(self, group: int = 2) -> None:
        super().__init__()
        if group < 2:
            raise ValueError(f"group must be >= 2, got {group}")
        self.group = int(group)

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[-1]
        if n % self.group:
            raise ValueError(f"GroupSort: {n} features are not divisible by {self.group}")
        return x.reshape(*x.shape[:-1], n // self.group, self.group).sort(-1)[0].reshape(x.shape)


class Scale(nn.Module):
    """Multiply by a fixed constant (the network's Lipschitz constant)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"Lipschitz constant must be positive, got {value}")
        self.value = float(value)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.value


def lipschitz_mlp(sizes: Sequence[int], lipschitz: float, iters: int = 5,
                  group: int = 2) -> nn.Sequential:
    """``sizes[0]`` → … → ``sizes[-1]``: BjorckLinear + GroupSort hidden layers, a final
    BjorckLinear and ×``lipschitz``: an L-Lipschitz (L2) map. Hidden widths must be divisible
    by ``group``."""
    if len(sizes) < 2:
        raise ValueError(f"lipschitz_mlp: need at least input and output sizes, got {sizes}")
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(BjorckLinear(int(a), int(b), iters=iters))
        if i < len(sizes) - 2:
            if int(b) % group:
                raise ValueError(f"hidden width {b} is not divisible by the GroupSort group "
                                 f"{group}")
            layers.append(GroupSort(group))
    layers.append(Scale(lipschitz))
    return nn.Sequential(*layers)


@torch.no_grad()
def lipschitz_upper_bound(net: nn.Module) -> float:
    """Measured L2 Lipschitz bound of a network built from Flatten, BjorckLinear, Linear,
    GroupSort, ReLU and Scale: Π ‖W_eff‖₂ · Π scales (raises for other modules)."""
    bound = 1.0
    for mod in net.modules():
        if isinstance(mod, BjorckLinear):
            bound *= float(torch.linalg.matrix_norm(mod.effective_weight(), ord=2))
        elif isinstance(mod, nn.Linear):
            bound *= float(torch.linalg.matrix_norm(mod.weight, ord=2))
        elif isinstance(mod, Scale):
            bound *= mod.value
        elif isinstance(mod, (nn.Sequential, nn.Flatten, GroupSort, nn.ReLU, nn.Identity)):
            continue
        elif mod is not net:
            raise ValueError(f"lipschitz_upper_bound: no rule for {type(mod).__name__}")
    return bound
