"""The latent-codec contract shared by every model in njscc.

A codec maps data ``x`` to a latent code and back::

    x ──encode──▶ h [B, ...] ──(channel / sampling)──▶ y [K, B, m] ──decode──▶ params [K, B, ...]

Every codec **declares** what its latent is (:attr:`LatentCodec.latent`, a
:class:`LatentSpec`): ``bits`` (NECST: m Bernoulli bits), ``real`` (VAE/VIB: d real
dimensions), ``categorical(K)`` (codebook indices) or ``hierarchical`` (several of these).
Objectives, experiments, the Trainer, the CLI and the bitstream ask that declaration — and
:attr:`reconstructs` / :attr:`classifies` for what the decoder outputs — instead of guessing
from types. A latent with a ``channel_bits`` count can be sent through a binary channel and
stored in a bitstream; the others cannot (``njscc encode`` refuses them).

Received symbols ``y`` of bit codecs use the channel alphabet of :mod:`channels`: ``0``/``1``
and ``ERASED = -1`` for erasures. :func:`decoder_input` turns them into bipolar features
(0 → −1, 1 → +1, erased → 0) so one decoder serves BSC and BEC alike. Soft-output channels
(``awgn_soft``) are seen as soft bits P(ŷ = 1 | y) ∈ (0, 1) (:func:`received_view`), whose
bipolar feature is E[±1 | y] = tanh(llr / 2): the same decoder takes hard or soft decisions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from channels.base import ERASED, BinaryChannel
from njscc.nn.likelihoods import SCALED, log_likelihood, units
from njscc.registry import Configurable

__all__ = ["ANALOG_SYMBOLS", "DECODER_INPUTS", "LATENT_KINDS", "EncoderDecoderCodec",
           "LatentCodec", "LatentSpec", "Support", "decoder_input", "encoder_decoder_groups",
           "received_view", "sample_channel"]

#: the kinds of latent a codec may declare
LATENT_KINDS = ("bits", "real", "categorical", "hierarchical")
#: the symbols an analog latent crosses its channel as (:attr:`LatentSpec.analog`)
ANALOG_SYMBOLS = ("complex", "real")


@dataclass(frozen=True)
class LatentSpec:
    """What a codec's latent is.

    Attributes:
        kind: ``"bits"``, ``"real"``, ``"categorical"`` or ``"hierarchical"``.
        size: number of latent units: bits, real dimensions, categorical variables, or (for
            ``hierarchical``) the sum over the parts.
        categories: K of a ``categorical`` latent.
        parts: the layers of a ``hierarchical`` latent, top first.
        analog: for a ``real`` latent that *is* the transmitted signal (DeepJSCC): the
            symbols it crosses an analog channel as, ``"complex"`` (``size`` = 2·k real
            dimensions = k complex channel uses) or ``"real"`` (k = ``size``); else ``None``.

    ``channel_bits`` is the number of bits one code takes through a binary channel or in a
    bitstream (``None``: the latent cannot be sent that way); ``channel_uses`` the number of
    analog channel uses of an ``analog`` latent.
    """

    kind: str
    size: int
    categories: int | None = None
    parts: tuple[LatentSpec, ...] = ()
    analog: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in LATENT_KINDS:
            raise ValueError(f"latent kind: expected one of {', '.join(LATENT_KINDS)}, got "
                             f"{self.kind!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"latent size: expected a positive integer, got {self.size!r}")
        if self.kind == "categorical" and (self.categories is None or self.categories < 2):
            raise ValueError(f"a categorical latent needs categories >= 2, got "
                             f"{self.categories!r}")
        if self.kind == "hierarchical":
            if not self.parts or self.size != sum(p.size for p in self.parts):
                raise ValueError("a hierarchical latent needs parts whose sizes add up to size")
        if self.analog is not None:
            if self.kind != "real" or self.analog not in ANALOG_SYMBOLS:
                raise ValueError(f"analog: a real latent sent as {' or '.join(ANALOG_SYMBOLS)} "
                                 f"symbols, got kind {self.kind!r}, analog {self.analog!r}")
            if self.analog == "complex" and self.size % 2:
                raise ValueError(f"a complex analog latent needs an even number of real "
                                 f"dimensions, got {self.size}")

    @classmethod
    def bits(cls, m: int) -> LatentSpec:
        """``m`` binary code bits (NECST)."""
        return cls("bits", m)

    @classmethod
    def real(cls, d: int) -> LatentSpec:
        """``d`` real dimensions (VAE, VIB, DeepJSCC)."""
        return cls("real", d)

    @classmethod
    def channel_symbols(cls, k: int, complex_symbols: bool = True) -> LatentSpec:
        """``k`` analog channel symbols (DeepJSCC): complex (2k real dims) or real (k)."""
        return cls("real", 2 * k if complex_symbols else k,
                   analog="complex" if complex_symbols else "real")

    @classmethod
    def categorical(cls, n: int, k: int) -> LatentSpec:
        """``n`` indices into a codebook of ``k`` entries (VQ codes)."""
        return cls("categorical", n, categories=k)

    @classmethod
    def hierarchical(cls, parts: Iterable[LatentSpec]) -> LatentSpec:
        """Several latent layers, top first."""
        parts = tuple(parts)
        return cls("hierarchical", sum(p.size for p in parts), parts=parts)

    @property
    def channel_bits(self) -> int | None:
        """Bits per code over a binary channel / in a bitstream; ``None`` if not sendable."""
        if self.kind == "bits":
            return self.size
        if self.kind == "categorical":
            return self.size * math.ceil(math.log2(self.categories or 2))
        if self.kind == "hierarchical":
            bits = [p.channel_bits for p in self.parts]
            return None if any(b is None for b in bits) else sum(bits)  # type: ignore[arg-type]
        return None

    @property
    def sendable(self) -> bool:
        """Whether codes can go through a binary channel and into a bitstream."""
        return self.channel_bits is not None

    @property
    def channel_uses(self) -> int | None:
        """Analog channel uses per code (complex or real symbols); ``None`` if not analog."""
        if self.analog is None:
            return None
        return self.size // 2 if self.analog == "complex" else self.size

    @property
    def crosses_channel(self) -> bool:
        """Whether codes cross a channel: a binary one (:attr:`sendable`) or an analog one."""
        return self.sendable or self.analog is not None

    def __str__(self) -> str:
        if self.kind == "bits":
            return f"{self.size} bits"
        if self.analog is not None:
            return f"{self.channel_uses} {self.analog} channel symbols"
        if self.kind == "real":
            return f"{self.size} real dims"
        if self.kind == "categorical":
            return f"{self.size} × categorical({self.categories})"
        return "hierarchical(" + ", ".join(map(str, self.parts)) + ")"

    def as_dict(self) -> dict[str, Any]:
        """JSON form (results files, ``run.json``)."""
        out: dict[str, Any] = {"kind": self.kind, "size": self.size,
                               "channel_bits": self.channel_bits}
        if self.categories is not None:
            out["categories"] = self.categories
        if self.parts:
            out["parts"] = [p.as_dict() for p in self.parts]
        if self.analog is not None:
            out["analog"] = self.analog
            out["channel_uses"] = self.channel_uses
        return out


@dataclass(frozen=True)
class Support:
    """Whether an objective (or experiment) can work with a codec, and if not, why."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def yes(cls) -> Support:
        return cls(True)

    @classmethod
    def no(cls, reason: str) -> Support:
        return cls(False, reason)


#: how a decoder sees received symbols: ``bipolar`` {−1, +1, 0 erased} (njscc's default, one
#: decoder for BSC and BEC) or ``binary`` {0, 1, ½ erased} (the official NECST code's input)
DECODER_INPUTS = ("bipolar", "binary")


def decoder_input(y: Tensor, mode: str = "bipolar") -> Tensor:
    """Received symbols {0, 1, ERASED} → decoder features, shape kept: ``bipolar`` gives
    {−1, +1, 0}, ``binary`` gives {0, 1, 0.5} (see :data:`DECODER_INPUTS`)."""
    y = y.to(torch.get_default_dtype()) if not y.is_floating_point() else y
    if mode == "bipolar":
        return (2.0 * y - 1.0) * (y != ERASED)
    if mode == "binary":
        return torch.where(y == ERASED, 0.5, y)
    raise ValueError(f"decoder_input: expected one of {', '.join(DECODER_INPUTS)}, got {mode!r}")


def received_view(channel: BinaryChannel | None, received: Tensor) -> Tensor:
    """What a bit codec's decoder is fed for ``received`` ``[...]``: the symbols themselves
    for discrete channels (and ``None``), the soft bits ``P(ŷ = 1 | y) = σ(llr(y))`` for
    soft-output channels. Same shape."""
    if channel is not None and channel.soft_output:
        return channel.soft_bits(received)
    return received


def sample_channel(
    logits: Tensor,
    channel: BinaryChannel | None,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample noisy codes from the closed-form channel marginal q(y | x).

    Args:
        logits: encoder logits ``[B, m]`` of q(ŷ = 1 | x).
        channel: a :class:`channels.base.BinaryChannel` with a discrete ``marginal``
            (``None``: noiseless, y = ŷ ~ Bernoulli(σ(ℓ))), or a soft-output one: then the
            sent bits ŷ ~ Bernoulli(σ(ℓ)) are drawn, sent through the channel, and ``y`` are
            the soft bits P(ŷ = 1 | received) (:func:`received_view`); ``log_q`` is then
            log q(ŷ | x) of the *sent* bits — the channel noise does not depend on the
            encoder, so it is still the right score for VIMCO / REINFORCE.
        n_samples: K, the number of samples per input.
        generator: optional ``torch.Generator`` for reproducible sampling.

    Returns:
        ``(y, log_q)``: received symbols ``[K, B, m]`` (float, values from the channel's
        alphabet, or soft bits in (0, 1)) and ``log q(y | x)`` summed over the m bits,
        ``[K, B]``, differentiable in ``logits``.
    """
    probs = torch.sigmoid(logits)
    soft = channel is not None and channel.soft_output
    if channel is None or soft:
        pm = torch.stack([1 - probs, probs], -1)
        alphabet_values: tuple[float, ...] = (0.0, 1.0)
    else:
        pm = channel.marginal(probs)  # [B, m, S]
        alphabet_values = channel.alphabet
    cdf = pm.detach().cumsum(-1)
    u = torch.rand((n_samples, *logits.shape), generator=generator, device=logits.device,
                   dtype=pm.dtype)
    idx = (u.unsqueeze(-1) > cdf).sum(-1).clamp_max(pm.shape[-1] - 1)  # [K, B, m]
    log_pm = pm.clamp_min(1e-30).log()
    log_q = log_pm.expand(n_samples, *pm.shape).gather(-1, idx.unsqueeze(-1)).squeeze(-1)
    alphabet = torch.tensor(alphabet_values, dtype=logits.dtype, device=logits.device)
    y = alphabet[idx]
    if soft:  # send the sampled bits; the decoder sees the soft bits of what arrives
        y = channel.soft_bits(channel(y, generator=generator)).to(logits.dtype)  # type: ignore[union-attr]
    return y, log_q.sum(-1)


def encoder_decoder_groups(codec: nn.Module) -> dict[str, list[nn.Parameter]]:
    """``{"encoder": its parameters, "decoder": the decoder's and every other parameter}``
    for codecs built from ``encoder`` and ``decoder`` submodules (NECST, VAE)."""
    enc = list(codec.encoder.parameters())
    seen = {id(p) for p in enc}
    rest = list(codec.decoder.parameters())
    seen |= {id(p) for p in rest}
    rest += [p for p in codec.parameters() if id(p) not in seen]
    return {"encoder": enc, "decoder": rest}


class LatentCodec(Configurable, nn.Module):
    """Base class of every codec: an encoder to a declared latent and a decoder back.

    Subclasses implement :meth:`encode` and :meth:`decode`, set ``data_shape`` and (for
    reconstruction codecs) ``likelihood`` (see :mod:`njscc.nn.likelihoods`), and declare
    :attr:`latent` (default: ``m`` bits, for a codec that sets ``m``). ``config`` (registry
    name + constructor arguments) is recorded automatically (:class:`njscc.registry.Configurable`).

    Declarations read by objectives, experiments, the Trainer and the CLI:

    * :attr:`latent` — a :class:`LatentSpec`;
    * :attr:`reconstructs` — ``decode`` gives the parameters of p(x | code);
    * :attr:`classifies` — ``decode`` gives class logits q(label | code);
    * :attr:`conditions` — batch fields besides x the codec is conditioned on;
    * :attr:`variational` — the codec has a posterior density q(z|x), a prior p(z) and a
      reparameterised sampler (``sample_latent``, ``log_q``, ``log_prior``, ``rate``), which the
      rate–distortion objectives and the IWAE/GILBO estimators use;
    * :meth:`param_groups` — named parameter groups, one optimiser each (the Trainer applies
      its encoder L2 penalty to the weight matrices of the ``"encoder"`` group, if any);
    * :meth:`training_step` — the Trainer announces each optimisation step (schedules).
    """

    _config_kind: ClassVar[str] = "model"
    m: int
    data_shape: tuple[int, ...]
    likelihood: str = "sse"
    reconstructs: ClassVar[bool] = True
    classifies: ClassVar[bool] = False
    variational: ClassVar[bool] = False
    #: batch fields besides ``x`` that a *conditional* codec reads (e.g. ``("sensitive",)``
    #: for q(z | x, u) and p(x | z, u)): its encode / decode / forward / compress / decompress
    #: take them as keyword arguments of the same name, and objectives that do not pass them
    #: (:attr:`njscc.objectives.Objective.conditional`) refuse the model
    conditions: ClassVar[tuple[str, ...]] = ()

    @property
    def latent(self) -> LatentSpec:
        """What the latent is (default: ``self.m`` bits)."""
        return LatentSpec.bits(self.m)

    @property
    def distortion_units(self) -> str:
        """Unit of −log p(x | code): ``"nats"`` or ``"sse"`` (unnormalised squared error)."""
        return units(self.likelihood)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Named parameter groups (default: one group, ``"model"``)."""
        return {"model": list(self.parameters())}

    def training_step(self, step: int) -> None:  # noqa: B027 - optional hook
        """Called by the Trainer before each optimisation step with the global step (0-based).
        Codecs with a training schedule (MFCVAE's progressive fade-in) override it; they keep
        the step in a buffer so that a saved model carries its place in the schedule."""

    def _check_x(self, x: Tensor) -> None:
        """``ValueError`` unless ``x`` is a batch of ``data_shape`` items (or flattened ones)."""
        if x.dim() < 2 or math.prod(x.shape[1:]) != math.prod(self.data_shape):
            raise ValueError(f"x must have shape [B, {', '.join(map(str, self.data_shape))}], "
                             f"got {list(x.shape)}")

    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` in [0, 1] → encoder output (bit codecs: logits ``[B, m]``
        of q(ŷ = 1 | x))."""
        raise NotImplementedError

    def decode(self, y: Tensor) -> Tensor:
        """Latent codes / received symbols ``[..., m]`` → decoder parameters ``[..., *out]``."""
        raise NotImplementedError

    def reconstruct(self, params: Tensor) -> Tensor:
        """Decoder parameters → reconstruction in data space ([0, 1]; the parameters
        themselves for the identity-mean ``"normal"`` likelihood)."""
        if getattr(self, "likelihood", None) == "normal":
            return params
        return torch.sigmoid(params)

    def log_prob(self, x: Tensor, params: Tensor) -> Tensor:
        """log p(x | code) per image: ``x`` ``[B, *D]``, ``params`` ``[..., B, *D]`` →
        ``[..., B]`` (see :mod:`njscc.nn.likelihoods`; the unit is :attr:`distortion_units`)."""
        x = x.reshape(x.shape[0], *self.data_shape)
        return log_likelihood(self.likelihood, x, params, len(self.data_shape), self.log_scale)

    @property
    def log_scale(self) -> Tensor | None:
        """log s of the ``"gaussian"`` likelihood (a learned parameter), else ``None``."""
        return None

    def forward(
        self,
        x: Tensor,
        channel: BinaryChannel | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Encode, sample K noisy codes from the channel marginal, decode (bit codecs).

        Returns a dict with ``logits`` ``[B, m]``, ``y`` ``[K, B, m]``, ``log_q`` ``[K, B]``
        (log q(y|x), differentiable in the logits), ``params`` ``[K, B, *D]`` and
        ``log_p`` ``[K, B]`` (log p(x|y)).
        """
        logits = self.encode(x)
        y, log_q = sample_channel(logits, channel, n_samples, generator)
        params = self.decode(y)
        return {"logits": logits, "y": y, "log_q": log_q, "params": params,
                "log_p": self.log_prob(x, params)}

    @torch.no_grad()
    def compress(self, x: Tensor) -> Tensor:
        """The code to send. Bit codecs: the most probable code, hard bits ``1[ℓ > 0]``,
        ``uint8`` ``[B, m]``."""
        return (self.encode(x) > 0).to(torch.uint8)

    @torch.no_grad()
    def decompress(self, y: Tensor) -> Tensor:
        """Received symbols ``[..., m]`` (uint8/float, erasures = −1) → x̂ ``[..., *D]``."""
        return self.reconstruct(self.decode(y))


class EncoderDecoderCodec(LatentCodec):
    """A codec built from ``self.encoder`` and ``self.decoder`` submodules (NECST, VAE, VIB).

    Parameter groups ``encoder`` and ``decoder`` (one Adam each, as in the NECST reference;
    the Trainer's L2 penalty goes to the encoder's weight matrices), and the ``"gaussian"``
    likelihood's learned scale as ``decoder.log_scale`` (:meth:`_add_scale`).
    """

    encoder: nn.Module
    decoder: nn.Module

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return encoder_decoder_groups(self)

    def _add_scale(self, init_scale: float) -> None:
        """Give the decoder a learned log-scale (``"gaussian"`` / ``"normal"`` likelihoods)."""
        if self.likelihood in SCALED:
            from njscc.validation import check_number

            s = check_number(init_scale, "init_scale", min=0, min_open=True)
            self.decoder.log_scale = nn.Parameter(torch.tensor(math.log(s)))

    @property
    def log_scale(self) -> Tensor | None:
        return self.decoder.log_scale if self.likelihood in SCALED else None

