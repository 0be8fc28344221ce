"""Fully connected building blocks: one MLP builder and TensorFlow-style initialisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

__all__ = ["ACTIVATIONS", "glorot_init", "mlp"]

#: hidden activations by name (``leaky_relu`` takes ``negative_slope``)
ACTIVATIONS: dict[str, Callable[[float], nn.Module]] = {
    "relu": lambda _: nn.ReLU(),
    "softplus": lambda _: nn.Softplus(),
    "leaky_relu": lambda slope: nn.LeakyReLU(slope),
    "tanh": lambda _: nn.Tanh(),
    "elu": lambda _: nn.ELU(),
}


def mlp(sizes: Sequence[int], activation: str = "relu", *, bias: bool | Sequence[bool] = True,
        negative_slope: float = 0.01) -> list[nn.Module]:
    """Linear layers ``sizes[0] → … → sizes[-1]`` with ``activation`` between them (none after
    the last). ``bias`` is one flag for every layer or one per layer. Returns the list of
    modules (wrap it in ``nn.Sequential``; the layer order fixes the state-dict keys and the
    order in which the global RNG initialises the weights)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(sorted(ACTIVATIONS))}, got "
                         f"{activation!r}")
    n = len(sizes) - 1
    biases = [bias] * n if isinstance(bias, bool) else list(bias)
    if len(biases) != n:
        raise ValueError(f"bias: expected one flag per layer ({n}), got {len(biases)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b, bias=biases[i]))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation](negative_slope))
    return layers


def glorot_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases (TensorFlow's dense/conv defaults, as in NECST)."""
    for mod in module.modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
