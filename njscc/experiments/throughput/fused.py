"""The NECST MLP decoder for inference: FLOP count (:func:`mlp_flops`) and a fused fast path
(:class:`FusedMLPDecoder`) that computes exactly ``model.decompress``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["FusedMLPDecoder", "mlp_flops", "mlp_layers"]


_ACTIVATIONS = (nn.LeakyReLU, nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity)


def mlp_layers(decoder: nn.Module) -> list[tuple[nn.Linear, nn.Module | None]]:
    """``Sequential(Linear, act, Linear, act, …, Linear)`` → [(linear, activation or None)]."""
    if not isinstance(decoder, nn.Sequential):
        raise TypeError(f"decoder: expected an nn.Sequential MLP, got {type(decoder).__name__}")
    layers: list[tuple[nn.Linear, nn.Module | None]] = []
    for mod in decoder:
        if isinstance(mod, nn.Linear):
            layers.append((mod, None))
        elif isinstance(mod, _ACTIVATIONS) and layers and layers[-1][1] is None:
            layers[-1] = (layers[-1][0], mod)
        else:
            raise TypeError(f"decoder: unsupported module {type(mod).__name__} (supported: "
                            "Linear followed by at most one LeakyReLU/ReLU/Tanh/Sigmoid)")
    if not layers:
        raise TypeError("decoder: no Linear layer")
    return layers


def mlp_flops(decoder: nn.Module, *, output_sigmoid: bool = True) -> dict[str, int]:
    """FLOPs to decode one image with an MLP decoder (``Sequential`` of Linear + activations).

    Convention: a Linear layer costs ``2 · in · out`` (one multiply and one add per weight)
    plus ``out`` for a bias; each activation (and the output sigmoid that maps logits to
    pixels) costs one FLOP per element. The bipolar input map is not counted (the fused
    decoder folds it into the first layer).

    Returns ``{"linear", "bias", "activation", "total"}``.
    """
    lin = bias = act = 0
    layers = mlp_layers(decoder)
    for linear, activation in layers:
        lin += 2 * linear.in_features * linear.out_features
        bias += linear.out_features if linear.bias is not None else 0
        if activation is not None and not isinstance(activation, nn.Identity):
            act += linear.out_features
    if output_sigmoid:
        act += layers[-1][0].out_features
    return {"linear": lin, "bias": bias, "activation": act, "total": lin + bias + act}


def _apply_act_(h: Tensor, act: nn.Module | None) -> None:
    if act is None or isinstance(act, nn.Identity):
        return
    if isinstance(act, nn.LeakyReLU):
        F.leaky_relu_(h, act.negative_slope)
    elif isinstance(act, nn.ReLU):
        h.relu_()
    elif isinstance(act, nn.Tanh):
        h.tanh_()
    elif isinstance(act, nn.Sigmoid):
        h.sigmoid_()
    else:  # pragma: no cover - _mlp_layers rejects the rest
        raise TypeError(type(act).__name__)


class FusedMLPDecoder:
    """Inference-only fast path of a NECST MLP codec's ``decompress``: received bits → pixels.

    Computes the same function as ``model.decompress(y)`` (``sigmoid(decoder(f(y)))`` with the
    codec's feature map f = ``decoder_input_mode``: bipolar 2y − 1, erasures 0; or binary y,
    erasures ½), faster:

    * hard bits (no erasures) skip the bipolar map: ``W(2y − 1) + b = (2W) y + (b − W·1)``,
      with ``2W`` and ``b − W·1`` precomputed, so the first layer reads the 0/1 bits directly
      (uint8 input is converted to float32 one chunk at a time; binary codecs read them as
      they are);
    * rows are processed in chunks of ``chunk`` images into preallocated buffers
      (``addmm``/``mm`` with ``out=``, in-place activations, in-place output sigmoid), so the
      hidden activations stay in cache at any batch size;
    * weights are stored transposed and contiguous once.

    Inputs with erasures (``ERASED = −1``, float input) take the bipolar path with the
    original first-layer weights. Weights are copied at construction: rebuild after training.

    Args:
        model: a codec whose ``decoder`` is an ``nn.Sequential`` MLP fed
            :func:`njscc.codec.decoder_input` and whose ``reconstruct`` is the sigmoid (the
            NECST MLP codecs).
        chunk: images per inner block (256–1024 suits CPU caches; on GPU use a large value).
        dtype: compute dtype of the weights (float32; bfloat16/float16 for experiments).
        device: where to keep the weights (default: the model's device).

    Call: ``dec(y)`` with ``y`` ``[..., m]`` (uint8/bool/float; 0/1, or −1 for erasures) →
    ``[..., *data_shape]`` float32 pixels in [0, 1]; ``out=`` reuses a float32 buffer of
    that shape.
    """

    def __init__(self, model: nn.Module, *, chunk: int = 512, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> None:
        decoder = getattr(model, "decoder", None)
        if decoder is None:
            raise TypeError(f"model: {type(model).__name__} has no decoder submodule")
        layers = mlp_layers(decoder)
        if int(chunk) < 1:
            raise ValueError(f"chunk: expected ≥ 1, got {chunk}")
        p = next(decoder.parameters())
        self.device = torch.device(device) if device is not None else p.device
        self.dtype = dtype
        self.chunk = int(chunk)
        self.m = int(getattr(model, "m", layers[0][0].in_features))
        self.data_shape = tuple(getattr(model, "data_shape", (layers[-1][0].out_features,)))
        if layers[0][0].in_features != self.m:
            raise ValueError(f"model: decoder input {layers[0][0].in_features} != m={self.m}")
        #: the codec's feature map of the received bits (njscc.codec.decoder_input)
        self.input_mode = str(getattr(model, "decoder_input_mode", "bipolar"))
        if self.input_mode not in ("bipolar", "binary"):
            raise ValueError(f"model: decoder_input_mode {self.input_mode!r} is not supported "
                             "(bipolar or binary)")
        with torch.no_grad():
            first, act0 = layers[0]
            w = first.weight.detach().to(self.device, torch.float32)
            b = (first.bias.detach().to(self.device, torch.float32) if first.bias is not None
                 else torch.zeros(w.shape[0], device=self.device))
            if self.input_mode == "bipolar":  # W(2y − 1) + b = (2W) y + (b − W·1)
                self.w_bits = (2.0 * w).t().contiguous().to(dtype)    # [m, h1]
                self.b_bits = (b - w.sum(1)).to(dtype)                # [h1]
            else:  # binary: the decoder reads the 0/1 bits as they are
                self.w_bits = w.t().contiguous().to(dtype)
                self.b_bits = b.to(dtype)
            self.w_bipolar = w.t().contiguous().to(dtype)             # [m, h1]
            self.b_bipolar = b.to(dtype)
            self.act0 = act0
            self.rest: list[tuple[Tensor, Tensor | None, nn.Module | None]] = []
            for linear, act in layers[1:]:
                wt = linear.weight.detach().to(self.device, dtype).t().contiguous()
                bb = (linear.bias.detach().to(self.device, dtype) if linear.bias is not None
                      else None)
                self.rest.append((wt, bb, act))
        self.widths = [self.w_bits.shape[1]] + [wt.shape[1] for wt, _, _ in self.rest]
        self.out_features = self.widths[-1]
        if self.out_features != math.prod(self.data_shape):
            raise ValueError(f"model: decoder output {self.out_features} does not match "
                             f"data_shape {self.data_shape}")

    def _layer(self, x: Tensor, wt: Tensor, b: Tensor | None, out: Tensor) -> Tensor:
        if b is None:
            return torch.mm(x, wt, out=out)
        return torch.addmm(b, x, wt, out=out)

    @torch.inference_mode()
    def __call__(self, y: Tensor, out: Tensor | None = None) -> Tensor:
        if y.shape[-1] != self.m:
            raise ValueError(f"y: expected last dim m={self.m}, got shape {list(y.shape)}")
        lead = y.shape[:-1]
        y2 = y.reshape(-1, self.m)
        if y2.device != self.device:
            y2 = y2.to(self.device)
        n = y2.shape[0]
        erasures = y2.is_floating_point() and n > 0 and bool((y2 < 0).any())
        if out is None:
            out = torch.empty(n, self.out_features, device=self.device, dtype=torch.float32)
        else:
            if out.dtype != torch.float32 or out.numel() != n * self.out_features:
                raise ValueError(f"out: expected float32 with {n * self.out_features} "
                                 f"elements, got {out.dtype} {list(out.shape)}")
            out = out.view(n, self.out_features)
        c = min(self.chunk, max(n, 1))
        bufs = [torch.empty(c, w, device=self.device, dtype=self.dtype) for w in self.widths[:-1]]
        low = self.dtype != torch.float32
        last = (torch.empty(c, self.out_features, device=self.device, dtype=self.dtype)
                if low else None)
        for i in range(0, n, c):
            j = min(i + c, n)
            rows = j - i
            yc = y2[i:j]
            if erasures:
                x = (((2.0 * yc - 1.0) * (yc != -1)) if self.input_mode == "bipolar" else
                     torch.where(yc == -1, 0.5, yc)).to(self.dtype)
                h = self._layer(x, self.w_bipolar, self.b_bipolar, bufs[0][:rows])
            else:
                x = yc.to(self.dtype)
                h = self._layer(x, self.w_bits, self.b_bits, bufs[0][:rows])
            _apply_act_(h, self.act0)
            for li, (wt, b, act) in enumerate(self.rest):
                is_last = li == len(self.rest) - 1
                if is_last:
                    dst = last[:rows] if low else out[i:j]
                else:
                    dst = bufs[li + 1][:rows]
                h = self._layer(h, wt, b, dst)
                _apply_act_(h, act)
            if low:
                out[i:j].copy_(h)
            out[i:j].sigmoid_()
        return out.view(*lead, *self.data_shape)


