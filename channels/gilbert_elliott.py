"""Gilbert–Elliott burst-error channel: a BSC whose crossover follows a two-state Markov chain.

::

            p_gb                     state G ("good"): flip w.p. eps_good
       G ─────────▶ B                state B ("bad"):  flip w.p. eps_bad
         ◀─────────
            p_bg

The chain runs along the **last axis** of the input (time); every other axis is an independent
chain. Each chain starts in its stationary distribution, P(B) = π_B = p_gb / (p_gb + p_bg), so
the process is stationary: the per-bit error rate is ε̄ = π_G·eps_good + π_B·eps_bad at every
position, and sojourns in B (bursts) last 1/p_bg bits on average (1/p_gb in G).

Sampling is vectorised over the batch *and* over time: the chain is drawn as alternating
geometric sojourn lengths, whose cumulative sums are the switch times; a uint8 cumulative sum
of the switch marks gives the state parity. Errors are then drawn per state (sparsely where
the error probability is small). About as fast as a dense BSC (see docs/channels.md).

What the memoryless interface methods mean here (the channel has memory):

* ``marginal`` / ``llr``: the per-bit marginal, a BSC with crossover ε̄ (ignores the memory).
* ``capacity``: the **interleaved capacity** 1 − H(ε̄): what a memoryless code achieves after
  ideal interleaving; a *lower bound* on the true capacity (memory can only help).
  :attr:`GilbertElliottChannel.capacity_state_known` = 1 − π_G H(eps_good) − π_B H(eps_bad) is
  the capacity when the receiver knows the state, an *upper bound*.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from channels._sampling import bernoulli_positions, uniform, use_sparse
from channels._validate import check_bits, check_probability, check_probs, check_received
from channels.base import BinaryChannel, binary_entropy
from channels.discrete import BinarySymmetricChannel, flip_bits

__all__ = ["GE_DEFAULTS", "GilbertElliottChannel"]

#: defaults of :meth:`GilbertElliottChannel.from_mean_error_rate` (used by ``channels.get``):
#: bursts of 10 bits on average in a "bad" state where bits are coin flips, error-free otherwise
GE_DEFAULTS = {"p_bg": 0.1, "eps_good": 0.0, "eps_bad": 0.5}


class GilbertElliottChannel(BinaryChannel):
    """Two-state Markov (Gilbert–Elliott) burst channel; ``param`` is the mean error rate ε̄.

    Args:
        p_gb: P(G → B) per bit.
        p_bg: P(B → G) per bit (mean burst length 1 / p_bg); ``p_gb + p_bg > 0``.
        eps_good: crossover probability in state G.
        eps_bad: crossover probability in state B.
        validate: check every input is a 0/1 tensor.

    Shapes: ``forward`` ``[..., n] → [..., n]`` (dtype kept, n ≥ 1 is time);
    ``sample_states`` ``shape → bool [...]`` (True = bad); ``marginal`` ``[..., m] → [..., m, 2]``.
    """

    name = "ge"
    alphabet = (0.0, 1.0)
    memoryless = False

    def __init__(self, p_gb: float, p_bg: float, eps_good: float, eps_bad: float, *,
                 validate: bool = True) -> None:
        super().__init__()
        self.p_gb = check_probability(p_gb, "p_gb")
        self.p_bg = check_probability(p_bg, "p_bg")
        self.eps_good = check_probability(eps_good, "eps_good")
        self.eps_bad = check_probability(eps_bad, "eps_bad")
        if self.p_gb + self.p_bg <= 0.0:
            raise ValueError("p_gb + p_bg: expected > 0 (a unique stationary distribution), "
                             "got p_gb = p_bg = 0")
        self.validate = bool(validate)
        # a plain attribute, not a registered submodule (keeps repr/state_dict clean)
        self.__dict__["_bsc"] = BinarySymmetricChannel(self.mean_error_rate, validate=False)

    @classmethod
    def from_mean_error_rate(cls, mean: float, p_bg: float = GE_DEFAULTS["p_bg"],
                             eps_good: float = GE_DEFAULTS["eps_good"],
                             eps_bad: float = GE_DEFAULTS["eps_bad"],
                             **kwargs: object) -> GilbertElliottChannel:
        """The channel with mean error rate ``mean``, solving for ``p_gb``.

        π_B = (mean − eps_good) / (eps_bad − eps_good) and p_gb = π_B·p_bg / (1 − π_B); the
        mean must lie in [eps_good, eps_bad) and give p_gb ≤ 1, else ``ValueError`` says the
        reachable range.
        """
        mean = check_probability(mean, "mean error rate")
        p_bg = check_probability(p_bg, "p_bg")
        eps_good = check_probability(eps_good, "eps_good")
        eps_bad = check_probability(eps_bad, "eps_bad")
        if eps_bad <= eps_good or p_bg <= 0.0:
            raise ValueError(f"ge: need eps_bad > eps_good and p_bg > 0 to set the mean error "
                             f"rate, got eps_good={eps_good}, eps_bad={eps_bad}, p_bg={p_bg}")
        # the largest reachable mean has p_gb = 1: π_B = 1 / (1 + p_bg)
        hi = eps_good + (eps_bad - eps_good) / (1.0 + p_bg)
        if not eps_good <= mean <= hi:
            raise ValueError(f"ge: mean error rate must be in [{eps_good:g}, {hi:.6g}] with "
                             f"p_bg={p_bg:g}, eps_good={eps_good:g}, eps_bad={eps_bad:g}; "
                             f"got {mean!r}")
        pi_bad = (mean - eps_good) / (eps_bad - eps_good)
        p_gb = min(1.0, pi_bad * p_bg / (1.0 - pi_bad))
        return cls(p_gb, p_bg, eps_good, eps_bad, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_param(cls, param: float, **kwargs: object) -> GilbertElliottChannel:
        """Registry constructor: ``param`` is the mean error rate (see
        :meth:`from_mean_error_rate`; ``p_bg``, ``eps_good``, ``eps_bad`` default to
        :data:`GE_DEFAULTS`)."""
        return cls.from_mean_error_rate(param, **kwargs)  # type: ignore[arg-type]

    # -- closed forms ---------------------------------------------------------------------
    @property
    def pi_bad(self) -> float:
        """Stationary probability of the bad state, p_gb / (p_gb + p_bg)."""
        return self.p_gb / (self.p_gb + self.p_bg)

    @property
    def mean_error_rate(self) -> float:
        """ε̄ = π_G·eps_good + π_B·eps_bad."""
        return (1.0 - self.pi_bad) * self.eps_good + self.pi_bad * self.eps_bad

    @property
    def mean_burst_length(self) -> float:
        """Mean sojourn in the bad state, 1 / p_bg (inf if p_bg = 0)."""
        return math.inf if self.p_bg == 0.0 else 1.0 / self.p_bg

    @property
    def mean_gap_length(self) -> float:
        """Mean sojourn in the good state, 1 / p_gb (inf if p_gb = 0)."""
        return math.inf if self.p_gb == 0.0 else 1.0 / self.p_gb

    @property
    def param(self) -> float:
        return self.mean_error_rate

    @property
    def error_probability(self) -> float:
        return self.mean_error_rate

    @property
    def capacity(self) -> float:
        """Interleaved capacity 1 − H(ε̄) (a lower bound on the true capacity)."""
        return 1.0 - binary_entropy(self.mean_error_rate)

    @property
    def capacity_state_known(self) -> float:
        """1 − π_G·H(eps_good) − π_B·H(eps_bad): capacity with the state known at the
        receiver, an upper bound on the true capacity."""
        pb = self.pi_bad
        return 1.0 - (1.0 - pb) * binary_entropy(self.eps_good) - pb * binary_entropy(self.eps_bad)

    def extra_repr(self) -> str:
        return (f"p_gb={self.p_gb:g}, p_bg={self.p_bg:g}, eps_good={self.eps_good:g}, "
                f"eps_bad={self.eps_bad:g}")

    # -- sampling -------------------------------------------------------------------------
    def sample_states(self, shape: torch.Size | tuple[int, ...], *,
                      device: torch.device | str | None = None,
                      generator: torch.Generator | None = None) -> Tensor:
        """Stationary state sequences along the last axis: bool ``shape``, True = bad.

        Each row (all leading axes flattened) starts in B with probability π_B and then
        alternates geometric sojourns (leave G w.p. p_gb, B w.p. p_bg per bit).
        """
        shape = tuple(shape)
        if len(shape) == 0 or shape[-1] < 1:
            raise ValueError(f"shape: expected at least one axis of length >= 1 (time), got "
                             f"{shape}")
        device = torch.device(device) if device is not None else torch.device("cpu")
        n = shape[-1]
        rows = math.prod(shape[:-1])
        s0 = torch.rand(rows, dtype=torch.float64, device=device,
                        generator=generator) < self.pi_bad
        # marks[r, t] = 1 where the state switches at time t; column 0 carries the initial
        # state, so the running parity is the state
        marks = torch.zeros((rows, n), dtype=torch.uint8, device=device)
        marks[:, 0] = s0
        # 1 / log(1 - leave probability) per state (0 → never leaves, -inf → leaves at once)
        inv = [(-math.inf if p == 0.0 else (0.0 if p == 1.0 else 1.0 / math.log1p(-p)))
               for p in (self.p_gb, self.p_bg)]
        inv_good, inv_bad = inv
        cycle = sum(math.inf if p == 0.0 else 1.0 / p for p in (self.p_gb, self.p_bg))
        row_idx = torch.arange(rows, device=device)
        pos = torch.zeros(rows, dtype=torch.int64, device=device)  # start of the next sojourn
        cur = s0.clone()  # state of the next sojourn
        while row_idx.numel():
            rem = n - int(pos.min())
            switches = 2.0 * rem / cycle
            k = min(rem, int(1.1 * switches + 6.0 * math.sqrt(switches) + 8))
            in_bad = cur[:, None] ^ (torch.arange(k, device=device) % 2 == 1)[None, :]
            v = torch.rand((row_idx.numel(), k), dtype=torch.float64, device=device,
                           generator=generator)
            # sojourn length 1 + floor(log V / log(1 - p)), V = 1 - u in (0, 1]
            lengths = torch.log1p(v.neg_()).mul_(torch.where(in_bad, inv_bad, inv_good))
            lengths = lengths.nan_to_num_(nan=n, posinf=n).floor_().clamp_(max=n).add_(1)
            ends = lengths.to(torch.int64).cumsum_(1).add_(pos[:, None])
            hit = ends < n
            marks[row_idx[:, None].expand_as(ends)[hit], ends[hit]] = 1
            done = ends[:, -1] >= n
            if k % 2:
                cur = ~cur
            keep = ~done
            row_idx, pos, cur = row_idx[keep], ends[keep, -1], cur[keep]
        states = marks.cumsum(1, dtype=torch.uint8).bitwise_and_(1).view(torch.bool)
        return states.view(shape)

    def _error_positions(self, states: Tensor, generator: torch.Generator | None) -> Tensor:
        """Flat indices of bit errors given bool ``states`` (CPU sparse path)."""
        flat = states.reshape(-1)
        parts = []
        if self.eps_good > 0.0:
            p = bernoulli_positions(flat.numel(), self.eps_good, flat.device, generator)
            parts.append(p[~flat[p]])
        if self.eps_bad > 0.0:
            bad = flat.nonzero().squeeze(1)
            if self.eps_bad == 1.0:
                parts.append(bad)
            elif use_sparse(self.eps_bad, flat.device) and self.eps_bad < 0.5:
                parts.append(bad[bernoulli_positions(bad.numel(), self.eps_bad, flat.device,
                                                     generator)])
            else:
                parts.append(bad[uniform(bad.shape, self.eps_bad, flat.device, generator)
                                 < self.eps_bad])
        if not parts:
            return torch.empty(0, dtype=torch.int64, device=flat.device)
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def forward(self, bits: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Received bits ``[..., n]``: ``bits XOR errors`` with Markov-modulated errors along
        the last axis. Same shape and dtype."""
        if self.validate:
            check_bits(bits)
        if bits.dim() == 0:
            raise ValueError("bits: expected at least one axis (the last one is time), got a "
                             "0-d tensor")
        if bits.numel() == 0:
            return bits.clone()
        states = self.sample_states(bits.shape, device=bits.device, generator=generator)
        eg, eb = self.eps_good, self.eps_bad
        if bits.device.type == "cpu" and (eg == 0.0 or (use_sparse(eg, bits.device)
                                                        and eg < 0.5)):
            y = bits.clone(memory_format=torch.contiguous_format)
            flat = y.view(-1)
            pos = self._error_positions(states, generator)
            flat[pos] = flip_bits(flat[pos])
            return y
        # uniforms fine enough for the smaller of the two error probabilities
        finest = min((min(p, 1.0 - p) for p in (eg, eb) if 0.0 < p < 1.0), default=0.5)
        u = uniform(bits.shape, finest, bits.device, generator)
        err = u < torch.where(states, eb, eg).to(u.dtype)
        if bits.is_floating_point() or bits.dtype == torch.bool:
            return torch.logical_xor(bits, err).to(bits.dtype)
        return bits ^ err

    # -- memoryless views -----------------------------------------------------------------
    def marginal(self, probs: Tensor) -> Tensor:
        """Per-bit marginal (memory ignored): the BSC(ε̄) marginal ``[..., m, 2]``."""
        return self._bsc.marginal(check_probs(probs))

    def llr(self, received: Tensor) -> Tensor:
        """Per-bit LLR ignoring memory: ``±log((1−ε̄)/ε̄)`` as a BSC(ε̄)."""
        return self._bsc.llr(check_received(received))
