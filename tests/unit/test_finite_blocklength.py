"""Finite-blocklength bounds: closed forms, perfect codes (where the meta-converse is tight),
exact enumeration of a random-code ensemble, achievability ≤ converse, convergence to C."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from channels import bsc_capacity
from channels import finite_blocklength as fb


def _exact_bsc_error(n: int, t: int, d: float) -> float:
    """Block error of a perfect t-error-correcting code of length n over BSC(d)."""
    return 1.0 - sum(math.comb(n, w) * d**w * (1 - d) ** (n - w) for w in range(t + 1))


@pytest.mark.parametrize(("n", "k", "t"), [(3, 1, 1), (7, 4, 1), (15, 11, 1), (23, 12, 3)])
@pytest.mark.parametrize("d", [0.01, 0.1, 0.2])
def test_meta_converse_is_tight_for_perfect_codes(n: int, k: int, t: int, d: float) -> None:
    # repetition (3, 1), Hamming (7, 4) and (15, 11), Golay (23, 12): the decoding spheres
    # tile {0,1}^n, so the Neyman-Pearson test of the converse is the code's own decoder
    pe = _exact_bsc_error(n, t, d)
    assert fb.converse_error("bsc", d, n, k) == pytest.approx(pe, rel=1e-9)
    assert fb.max_log2_m("bsc", d, n, pe, "converse") == pytest.approx(k, abs=1e-6)
    # no code does better than the converse, and a random code does no better than a perfect one
    assert fb.converse_error("bsc", d, n, k) <= pe * (1 + 1e-12)
    assert fb.achievability_error("bsc", d, n, k) >= pe * (1 - 1e-12)


@pytest.mark.parametrize("d", [0.05, 0.3, 0.6])
def test_bec_closed_forms(d: float) -> None:
    # repetition (3, 1): wrong only when all three are erased and the guess fails
    assert fb.converse_error("bec", d, 3, 1) == pytest.approx(d**3 / 2, rel=1e-12)
    # M = 2 random words: they agree on the n - t unerased places w.p. 2^-(n-t), then ML
    # guesses wrong w.p. 1/2 -- Theorem 37 is this ensemble average exactly
    n = 12
    exact = sum(math.comb(n, t) * d**t * (1 - d) ** (n - t) * 2.0 ** (-(n - t) - 1)
                for t in range(n + 1))
    assert fb.achievability_error("bec", d, n, 1) == pytest.approx(exact, rel=1e-12)


def test_rcu_bounds_the_exact_random_code_ensemble() -> None:
    # i.i.d. uniform codebooks with ML decoding, each codebook's error computed exactly by
    # enumerating all 2^n outputs; the ensemble mean lies between converse and RCU
    n, m, d = 10, 4, 0.1
    rng = np.random.default_rng(0)
    y = np.array(list(itertools.product([0, 1], repeat=n)))
    errs = []
    for _ in range(300):
        words = rng.integers(0, 2, (m, n))
        dist = (y[:, None, :] != words[None]).sum(-1)
        p = d**dist * (1 - d) ** (n - dist)
        errs.append(1.0 - p.max(axis=1).sum() / m)
    mean, se = float(np.mean(errs)), float(np.std(errs, ddof=1) / math.sqrt(len(errs)))
    rcu = fb.achievability_error("bsc", d, n, math.log2(m))
    assert mean <= rcu + 3 * se
    assert mean >= fb.converse_error("bsc", d, n, math.log2(m))
    assert mean > rcu / 3  # the bound is not vacuous here (0.052 vs 0.088)


@pytest.mark.parametrize("channel", ["bsc", "bec"])
@pytest.mark.parametrize("eps", [0.02, 0.11, 0.3])
@pytest.mark.parametrize("n", [20, 100, 500])
@pytest.mark.parametrize("pe", [1e-1, 1e-3, 1e-6])
def test_achievability_below_converse_below_capacity(channel: str, eps: float, n: int,
                                                     pe: float) -> None:
    lim = fb.limits(channel, eps, n, pe)
    assert 0.0 <= lim.achievability <= lim.converse + 1e-9
    assert lim.converse <= lim.capacity_bits + 0.5 * math.log2(n) + 1  # PPV: nC − O(√n)
    # the error bounds are monotone in the code size
    ks = np.linspace(0.5, n * 0.9, 7)
    a = [fb.achievability_error(channel, eps, n, k) for k in ks]
    c = [fb.converse_error(channel, eps, n, k) for k in ks]
    assert all(x <= y + 1e-15 for x, y in itertools.pairwise(a))
    assert all(x <= y + 1e-15 for x, y in itertools.pairwise(c))
    assert all(lo <= hi + 1e-12 for lo, hi in zip(c, a, strict=True))


@pytest.mark.parametrize("channel", ["bsc", "bec"])
def test_bounds_approach_capacity_and_the_normal_approximation(channel: str) -> None:
    eps, pe, n = 0.11, 1e-3, 20000
    lim = fb.limits(channel, eps, n, pe)
    c = bsc_capacity(eps) if channel == "bsc" else 1 - eps
    backoff = math.sqrt(fb.dispersion(channel, eps) / n) * 3.090232306167813  # √(V/n)·Q⁻¹(pe)
    assert c - 1.05 * backoff < lim.achievability / n <= lim.converse / n < c
    # at this length the normal approximation is within a few bits of both bounds
    assert lim.achievability - 5 <= lim.normal <= lim.converse + 5


def test_dispersion_and_normal_approximation_closed_forms() -> None:
    d = 0.11
    v = d * (1 - d) * math.log2((1 - d) / d) ** 2
    assert fb.dispersion("bsc", d) == pytest.approx(v)
    assert fb.dispersion("bec", 0.5) == 0.25
    q = 3.090232306167813  # Q^-1(1e-3)
    assert fb.normal_approximation("bsc", d, 100, 1e-3) == pytest.approx(
        100 * bsc_capacity(d) - math.sqrt(100 * v) * q + 0.5 * math.log2(100))
    assert fb.normal_approximation("bec", 0.5, 100, 1e-3) == pytest.approx(50 - 5 * q)


@pytest.mark.parametrize("bound", ["achievability", "normal", "converse"])
def test_min_blocklength_is_the_first_length_that_carries_k_bits(bound: str) -> None:
    k, eps, pe = 53, 0.1, 1e-3
    n = fb.min_blocklength("bsc", eps, k, pe, bound)
    assert fb.max_log2_m("bsc", eps, n, pe, bound) >= k
    assert fb.max_log2_m("bsc", eps, n - 1, pe, bound) < k
    assert n > k / bsc_capacity(eps)  # more than the capacity count ⌈k/C⌉ = 100
    if bound == "achievability":
        assert n >= fb.min_blocklength("bsc", eps, k, pe, "converse")


@pytest.mark.parametrize(("call", "match"), [
    (lambda: fb.dispersion("awgn", 0.1), "channel"),
    (lambda: fb.dispersion("bsc", 0.5), "eps"),
    (lambda: fb.dispersion("bec", 1.0), "eps"),
    (lambda: fb.limits("bsc", 0.1, 0, 1e-3), "n"),
    (lambda: fb.limits("bsc", 0.1, 10.5, 1e-3), "n"),
    (lambda: fb.limits("bsc", 0.1, 10, 0.0), "pe"),
    (lambda: fb.max_log2_m("bsc", 0.1, 10, 1e-3, "sphere"), "bound"),
    (lambda: fb.min_blocklength("bsc", 0.1, 0, 1e-3, "normal"), "k"),
])
def test_bad_arguments_are_refused(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
