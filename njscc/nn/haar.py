"""The orthonormal 2-D Haar wavelet transform in closed form, and what average pooling is.

For every 2×2 block [[a, b], [c, d]] of an image (PyWavelets' ``dwt2(x, "haar")``
conventions)::

    cA = (a + b + c + d) / 2     approximation       cV = (a − b + c − d) / 2   vertical detail
    cH = (a + b − c − d) / 2     horizontal detail   cD = (a − b − c + d) / 2   diagonal detail

The transform is orthonormal, so :func:`haar_idwt2` inverts it exactly. Average pooling over
2×2 blocks is ``cA / 2``, and pooling followed by nearest-neighbour upsampling is the
orthogonal projection onto the coarse Haar subspace — ``haar_idwt2(cA, 0, 0, 0)`` — which
discards exactly the three detail bands: the observation of Falck, Williams et al. (2023)
that a U-Net with average pooling is a Haar multi-resolution analysis
(:func:`haar_projection`; tested against PyWavelets).
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

__all__ = ["haar_dwt2", "haar_idwt2", "haar_projection"]


def _blocks(x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"haar_dwt2: height and width must be even, got {list(x.shape[-2:])}")
    return x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]


def haar_dwt2(x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor, Tensor]]:
    """One level of the 2-D Haar DWT: ``[..., H, W]`` → ``(cA, (cH, cV, cD))``, each
    ``[..., H/2, W/2]``."""
    a, b, c, d = _blocks(x)
    return (a + b + c + d) / 2, ((a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2)


def haar_idwt2(ca: Tensor, details: tuple[Tensor, Tensor, Tensor] | None = None) -> Tensor:
    """Inverse of :func:`haar_dwt2`; ``details=None`` takes the detail bands as zero."""
    if details is None:
        ch = cv = cd = ca * 0
    else:
        ch, cv, cd = details
    out = ca.new_empty(*ca.shape[:-2], 2 * ca.shape[-2], 2 * ca.shape[-1])
    out[..., 0::2, 0::2] = (ca + ch + cv + cd) / 2
    out[..., 0::2, 1::2] = (ca + ch - cv - cd) / 2
    out[..., 1::2, 0::2] = (ca - ch + cv - cd) / 2
    out[..., 1::2, 1::2] = (ca - ch - cv + cd) / 2
    return out


def haar_projection(x: Tensor) -> Tensor:
    """Average pooling (2×2) then nearest upsampling of ``[B, C, H, W]``: the projection of x
    onto the coarse Haar subspace (equal to ``haar_idwt2(haar_dwt2(x)[0])``)."""
    return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
