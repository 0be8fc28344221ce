"""Finite-blocklength limits of the BSC and the BEC (Polyanskiy, Poor & Verdú, IEEE Trans. IT 2010).

Capacity says how many bits per channel use are possible as n → ∞; at the blocklengths of one
image's code (tens to hundreds of channel uses) the best rate at block error probability P_e is
noticeably lower. This module gives, for a blocklength ``n`` and a target ``pe``, bounds on
log₂ M*(n, pe) — the most information bits any code of length n can carry at average block
error ≤ pe:

* **normal approximation**: n·C − √(n·V)·Q⁻¹(pe) + ½·log₂ n (BSC; PPV eq. (293)) or + 0
  (BEC; PPV eq. (295)), with V the channel dispersion (:func:`dispersion`);
* **achievability** (a code with at least this many bits exists): the random-coding union
  (RCU) bound for the BSC (PPV Theorem 16, ties counted as errors), the dependence-testing
  bound for the BEC (PPV Theorem 37);
* **converse** (no code has more): the exact meta-converse for the BSC (PPV Theorem 35: the
  Neyman–Pearson test against the uniform output; tight for perfect codes), and the erasure
  counting converse for the BEC (PPV Theorem 38).

All sums run in the log domain over the n + 1 Hamming weights (exact up to float64 rounding;
n up to 10⁵ is fast). Rates and sizes are in bits; ``log2_m`` may be fractional (M = 2^k).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, logsumexp
from scipy.stats import norm

from channels.base import binary_entropy

__all__ = ["FiniteBlocklength", "achievability_error", "converse_error", "dispersion",
           "first_true", "limits", "max_log2_m", "min_blocklength", "normal_approximation"]

_CHANNELS = ("bsc", "bec")
_LN2 = math.log(2.0)


def _check(channel: str, eps: float, n: int | None = None, pe: float | None = None) -> str:
    name = str(channel).lower()
    if name not in _CHANNELS:
        raise ValueError(f"channel: expected 'bsc' or 'bec', got {channel!r}")
    if not isinstance(eps, (int, float)) or not 0.0 < float(eps) < (0.5 if name == "bsc" else 1.0):
        hi = "0.5" if name == "bsc" else "1"
        raise ValueError(f"eps: expected a number in (0, {hi}) for {name}, got {eps!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n: expected an integer ≥ 1, got {n!r}")
    if pe is not None and not (isinstance(pe, (int, float)) and 0.0 < float(pe) < 1.0):
        raise ValueError(f"pe: expected a block error probability in (0, 1), got {pe!r}")
    return name


def _capacity(name: str, eps: float) -> float:
    return 1.0 - binary_entropy(eps) if name == "bsc" else 1.0 - eps


def dispersion(channel: str, eps: float) -> float:
    """Channel dispersion V in bits² per channel use: ε(1−ε)·log₂²((1−ε)/ε) for the BSC,
    ε(1−ε) for the BEC (PPV Theorems 52 and 53)."""
    name = _check(channel, eps)
    if name == "bsc":
        return eps * (1.0 - eps) * math.log2((1.0 - eps) / eps) ** 2
    return eps * (1.0 - eps)


def normal_approximation(channel: str, eps: float, n: int, pe: float) -> float:
    """log₂ M* ≈ n·C − √(n·V)·Q⁻¹(pe) + ½·log₂ n (BSC) or + 0 (BEC)."""
    name = _check(channel, eps, n, pe)
    c, v = _capacity(name, eps), dispersion(name, eps)
    third = 0.5 * math.log2(n) if name == "bsc" else 0.0
    return n * c - math.sqrt(n * v) * float(norm.isf(pe)) + third


def _log_binom(n: int) -> np.ndarray:
    t = np.arange(n + 1, dtype=np.float64)
    return gammaln(n + 1.0) - gammaln(t + 1.0) - gammaln(n - t + 1.0)


def _log_weight_probs(n: int, eps: float) -> np.ndarray:
    """ln P(exactly t flips / erasures), t = 0 … n."""
    t = np.arange(n + 1, dtype=np.float64)
    return _log_binom(n) + t * math.log(eps) + (n - t) * math.log1p(-eps)


def _log_m_minus_1(log2_m: float) -> float:
    """ln(M − 1) for M = 2^log2_m ≥ 1 (−inf for M = 1)."""
    if log2_m <= 0.0:
        return -math.inf
    x = log2_m * _LN2
    return x + math.log(-math.expm1(-x))


def achievability_error(channel: str, eps: float, n: int, log2_m: float) -> float:
    """An upper bound on the smallest average block error of a code with M = 2^log2_m words
    of length n: RCU (BSC) or Theorem 37 (BEC). Non-decreasing in ``log2_m``."""
    name = _check(channel, eps, n)
    lp = _log_weight_probs(n, eps)
    lm1 = _log_m_minus_1(float(log2_m))
    if lm1 == -math.inf:
        return 0.0
    t = np.arange(n + 1, dtype=np.float64)
    if name == "bsc":
        # P[a random word is at least as close to y as the sent one | t flips]
        # = Σ_{s ≤ t} C(n, s) 2^{-n}
        log_tail = np.logaddexp.accumulate(_log_binom(n)) - n * _LN2
        inner = np.minimum(0.0, lm1 + log_tail)
    else:
        # 2^{-[n - t - log2((M-1)/2)]^+}
        inner = -np.maximum(0.0, n - t - (lm1 / _LN2 - 1.0)) * _LN2
    return float(min(1.0, math.exp(logsumexp(lp + inner))))


def converse_error(channel: str, eps: float, n: int, log2_m: float) -> float:
    """A lower bound on the average block error of *every* code with M = 2^log2_m words of
    length n (the meta-converse solved for P_e on the BSC; Theorem 38 on the BEC)."""
    name = _check(channel, eps, n)
    log2_m = float(log2_m)
    if log2_m <= 0.0:
        return 0.0
    lp = _log_weight_probs(n, eps)
    if name == "bec":
        # with l erasures at most 2^{n-l} of the M messages can be told apart
        t = np.arange(n + 1, dtype=np.float64)
        gap = (n - t) - log2_m  # log2(2^{n-l} / M)
        keep = gap < 0
        if not keep.any():
            return 0.0
        return float(np.exp(logsumexp(lp[keep] + np.log(-np.expm1(gap[keep] * _LN2)))))
    # BSC: P_e ≥ 1 − α where β_α(P, uniform) = 1/M; the test takes the lightest error
    # patterns first (a fraction λ of weight t)
    log_beta_w = _log_binom(n) - n * _LN2  # ln Q(weight = w) under the uniform output
    target = -log2_m * _LN2  # ln(1/M)
    cum_q = np.logaddexp.accumulate(log_beta_w)
    t = int(np.searchsorted(cum_q, target))  # first weight where the Q mass reaches 1/M
    below_q = cum_q[t - 1] if t > 0 else -math.inf
    # λ = (1/M − Q(weight < t)) / Q(weight = t), in the log domain
    lam = math.exp(_log_sub(target, below_q) - log_beta_w[t]) if target > below_q else 0.0
    lam = min(1.0, lam)
    # P_e ≥ P(weight > t) + (1 − λ)·P(weight = t): the tail, summed directly (small numbers)
    tail = math.exp(logsumexp(lp[t + 1:])) if t < n else 0.0
    return float(min(1.0, tail + (1.0 - lam) * math.exp(lp[t])))


def _log_sub(a: float, b: float) -> float:
    """ln(e^a − e^b) for a > b."""
    return a if b == -math.inf else a + math.log(-math.expm1(b - a))


def _solve_log2_m(err, n: int, pe: float) -> float:
    """The largest log₂ M in [0, n] with err(log₂ M) ≤ pe (err non-decreasing), to 1e-9."""
    if err(float(n)) <= pe:
        return float(n)
    lo, hi = 0.0, float(n)
    while hi - lo > 1e-9 * max(1.0, hi):
        mid = 0.5 * (lo + hi)
        if err(mid) <= pe:
            lo = mid
        else:
            hi = mid
    return lo


def max_log2_m(channel: str, eps: float, n: int, pe: float, bound: str) -> float:
    """Bounds on log₂ M*(n, pe): ``bound="achievability"`` (a code this large exists),
    ``"converse"`` (none is larger) or ``"normal"`` (the normal approximation)."""
    name = _check(channel, eps, n, pe)
    if bound == "normal":
        return normal_approximation(name, eps, n, pe)
    if bound == "achievability":
        return _solve_log2_m(lambda k: achievability_error(name, eps, n, k), n, pe)
    if bound == "converse":
        return _solve_log2_m(lambda k: converse_error(name, eps, n, k), n, pe)
    raise ValueError(f"bound: expected 'achievability', 'converse' or 'normal', got {bound!r}")


def min_blocklength(channel: str, eps: float, k: float, pe: float, bound: str,
                    n_max: int = 1 << 20) -> int:
    """The fewest channel uses n for which ``max_log2_m(channel, eps, n, pe, bound) ≥ k``:
    the channel bits needed to send k information bits at block error ≤ pe (for
    ``"converse"``: no code does it with fewer)."""
    name = _check(channel, eps, None, pe)
    if not isinstance(k, (int, float)) or not math.isfinite(k) or k <= 0:
        raise ValueError(f"k: expected a number of information bits > 0, got {k!r}")

    if bound not in ("achievability", "converse", "normal"):
        raise ValueError(f"bound: expected 'achievability', 'converse' or 'normal', got "
                         f"{bound!r}")

    def ok(n: int) -> bool:  # max_log2_m(n) ≥ k, without solving for it (errors grow with M)
        if bound == "normal":
            return normal_approximation(name, eps, n, pe) >= k
        if k > n:
            return False
        err = achievability_error if bound == "achievability" else converse_error
        return err(name, eps, n, k) <= pe

    lo, hi = 0, max(1, math.ceil(k / _capacity(name, eps)))  # ok(0) is false
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > n_max:
            raise ValueError(f"min_blocklength: more than n_max={n_max} channel uses needed")
    return first_true(ok, lo, hi)  # the bounds grow with n


def first_true(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """The smallest n in (lo, hi] with ``ok(n)``, by bisection, for a predicate monotone in n
    with ``ok(hi)`` true and ``ok(lo)`` false (neither is evaluated)."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class FiniteBlocklength:
    """log₂ M* bounds at one (channel, ε, n, pe), and the capacity for comparison."""

    channel: str
    eps: float
    n: int
    pe: float
    achievability: float
    normal: float
    converse: float
    capacity_bits: float  # n·C


def limits(channel: str, eps: float, n: int, pe: float) -> FiniteBlocklength:
    """All three bounds on log₂ M*(n, pe) and n·C."""
    name = _check(channel, eps, n, pe)
    return FiniteBlocklength(
        name, float(eps), int(n), float(pe),
        max_log2_m(name, eps, n, pe, "achievability"), normal_approximation(name, eps, n, pe),
        max_log2_m(name, eps, n, pe, "converse"), n * _capacity(name, eps))
