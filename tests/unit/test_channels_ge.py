"""Gilbert–Elliott channel: stationarity, transition rates, burst lengths, error statistics.

Bounds (two-sided 99.9 %, z = 3.2905):

* state frequencies at one time step over independent rows, and transition frequencies
  (each step out of a state is a Bernoulli(p) trial given the path): binomial bounds;
* mean sojourn lengths (geometric, sd = √(1−p)/p) and error rates along correlated rows:
  normal bounds with the sample spread of independent rows (batch means).
"""

from __future__ import annotations

import math

import pytest
import torch

import channels
from channels import BinarySymmetricChannel, GilbertElliottChannel, binary_entropy
from channels.gilbert_elliott import GE_DEFAULTS

Z999 = 3.2905267314919255

# (p_gb, p_bg, eps_good, eps_bad): bursty + sparse errors; anti-correlated chain (p_gb + p_bg
# > 1); dense error path; one-bit bursts with certain errors; a chain that never leaves G
PARAMS = [(0.01, 0.1, 0.0, 0.5), (0.9, 0.8, 0.02, 0.4), (0.05, 0.2, 0.2, 0.7),
          (0.3, 1.0, 0.0, 1.0), (0.0, 0.5, 0.1, 0.5)]


def binom_tol(p: float, n: int) -> float:
    return Z999 * math.sqrt(p * (1.0 - p) / n)


def mean_tol(x: torch.Tensor) -> float:
    return Z999 * x.double().std().item() / math.sqrt(x.numel())


def runs(states: torch.Tensor, value: bool) -> torch.Tensor:
    """Lengths of complete runs of ``value`` (not touching either end of a row)."""
    out = []
    for row in states:
        change = torch.nonzero(row[1:] != row[:-1]).squeeze(1) + 1  # run starts
        starts, ends = change[:-1], change[1:]
        keep = row[starts] == value
        out.append((ends - starts)[keep])
    return torch.cat(out)


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_stationary_start_and_occupancy(params: tuple, generator: torch.Generator) -> None:
    ch = GilbertElliottChannel(*params)
    rows, n = 20000, 64
    s = ch.sample_states((rows, n), generator=generator)
    assert s.dtype == torch.bool and s.shape == (rows, n)
    pb = ch.pi_bad
    for t in (0, 1, n - 1):  # independent rows: exact binomial at any fixed time
        assert abs(s[:, t].double().mean().item() - pb) <= binom_tol(pb, rows) + 1e-12


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_transition_frequencies(params: tuple, generator: torch.Generator) -> None:
    ch = GilbertElliottChannel(*params)
    s = ch.sample_states((200, 10000), generator=generator)
    prev, nxt = s[:, :-1], s[:, 1:]
    for in_bad, p_leave in ((False, ch.p_gb), (True, ch.p_bg)):
        from_state = prev == in_bad
        count = int(from_state.sum())
        if count == 0:
            continue
        left = int((from_state & (nxt != in_bad)).sum())
        assert abs(left / count - p_leave) <= binom_tol(p_leave, count) + 1e-12


@pytest.mark.parametrize("params", PARAMS[:4], ids=str)
def test_mean_sojourn_lengths(params: tuple, generator: torch.Generator) -> None:
    ch = GilbertElliottChannel(*params)
    s = ch.sample_states((40, 50000), generator=generator)
    for in_bad, mean in ((True, ch.mean_burst_length), (False, ch.mean_gap_length)):
        lengths = runs(s, in_bad)
        assert lengths.numel() > 1000
        # complete runs inside a row of 50000 bits: truncation bias < 0.1 % of the mean here
        assert abs(lengths.double().mean().item() - mean) <= mean_tol(lengths) + 1e-3 * mean


@pytest.mark.parametrize("params", PARAMS, ids=str)
def test_error_rate_and_error_pairs(params: tuple, generator: torch.Generator) -> None:
    ch = GilbertElliottChannel(*params)
    rows, n = 2000, 1000
    bits = torch.randint(0, 2, (rows, n), generator=generator).float()
    e = (ch(bits, generator) != bits).double()
    mean = ch.mean_error_rate
    assert ch.param == ch.error_probability == pytest.approx(mean)
    per_row = e.mean(1)
    assert abs(per_row.mean().item() - mean) <= mean_tol(per_row) + 1e-12
    # memory: P(e_t = 1, e_{t+1} = 1) = Σ π_s ε_s P(s→s') ε_s'
    pi = [1 - ch.pi_bad, ch.pi_bad]
    eps = [ch.eps_good, ch.eps_bad]
    trans = [[1 - ch.p_gb, ch.p_gb], [ch.p_bg, 1 - ch.p_bg]]
    pair = sum(pi[s] * eps[s] * trans[s][t] * eps[t] for s in (0, 1) for t in (0, 1))
    pairs_row = (e[:, :-1] * e[:, 1:]).mean(1)
    assert abs(pairs_row.mean().item() - pair) <= mean_tol(pairs_row) + 1e-12


def test_bursts_cluster_errors(generator: torch.Generator) -> None:
    """With long bursts an error is much more likely right after an error than on average."""
    ch = GilbertElliottChannel(0.005, 0.05, 0.0, 0.5)
    bits = torch.zeros(100, 10000)
    e = ch(bits, generator).bool()
    after_error = e[:, 1:][e[:, :-1]].double().mean().item()
    assert after_error > 4 * ch.mean_error_rate


def test_closed_forms_and_capacities() -> None:
    ch = GilbertElliottChannel(0.02, 0.2, 0.01, 0.3)
    assert ch.pi_bad == pytest.approx(0.02 / 0.22)
    assert ch.mean_error_rate == pytest.approx((0.2 * 0.01 + 0.02 * 0.3) / 0.22)
    assert ch.mean_burst_length == pytest.approx(5.0) and ch.mean_gap_length == pytest.approx(50)
    assert ch.capacity == pytest.approx(1 - binary_entropy(ch.mean_error_rate))
    pb = ch.pi_bad
    known = 1 - (1 - pb) * binary_entropy(0.01) - pb * binary_entropy(0.3)
    assert ch.capacity_state_known == pytest.approx(known)
    assert ch.capacity < ch.capacity_state_known  # interleaved lower bound < known-state bound
    # marginal and LLR are those of a BSC(ε̄)
    bsc = BinarySymmetricChannel(ch.mean_error_rate)
    p = torch.rand(3, 5, dtype=torch.float64)
    assert torch.allclose(ch.marginal(p), bsc.marginal(p))
    y = torch.tensor([0.0, 1.0])
    assert torch.allclose(ch.llr(y), bsc.llr(y))
    logits = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ch.marginal(torch.sigmoid(x)), (logits,))


@pytest.mark.parametrize("mean", [0.0, 0.001, 0.05, 0.3, 0.45])
def test_from_mean_error_rate(mean: float) -> None:
    ch = GilbertElliottChannel.from_mean_error_rate(mean)
    assert ch.mean_error_rate == pytest.approx(mean, abs=1e-12)
    assert (ch.p_bg, ch.eps_good, ch.eps_bad) == (GE_DEFAULTS["p_bg"], GE_DEFAULTS["eps_good"],
                                                  GE_DEFAULTS["eps_bad"])
    assert channels.get("ge", mean).param == pytest.approx(mean, abs=1e-12)
    other = channels.get("ge", mean, p_bg=0.5, eps_bad=0.9)
    assert other.mean_error_rate == pytest.approx(mean, abs=1e-12) and other.p_bg == 0.5


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"mean error rate must be in \[0, 0.454545\]"):
        channels.get("ge", 0.48)
    with pytest.raises(ValueError, match="mean error rate"):
        channels.get("ge", -0.1)
    with pytest.raises(ValueError, match="p_gb"):
        GilbertElliottChannel(1.2, 0.1, 0.0, 0.5)
    with pytest.raises(ValueError, match="p_gb \\+ p_bg"):
        GilbertElliottChannel(0.0, 0.0, 0.0, 0.5)
    with pytest.raises(TypeError, match="eps_bad"):
        GilbertElliottChannel(0.1, 0.1, 0.0, "half")
    with pytest.raises(ValueError, match="eps_bad > eps_good"):
        GilbertElliottChannel.from_mean_error_rate(0.1, eps_good=0.5, eps_bad=0.2)
    ch = GilbertElliottChannel(0.1, 0.1, 0.0, 0.5)
    with pytest.raises(ValueError, match="0-d"):
        ch(torch.tensor(1.0))
    with pytest.raises(ValueError, match="bits"):
        ch(torch.tensor([0.0, 2.0]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.uint8, torch.bool])
def test_dtype_shape_and_reproducibility(dtype: torch.dtype) -> None:
    ch = GilbertElliottChannel(0.05, 0.2, 0.01, 0.5)
    dense = GilbertElliottChannel(0.05, 0.2, 0.2, 0.5)
    bits = torch.randint(0, 2, (3, 4, 500), generator=torch.Generator().manual_seed(0)).to(dtype)
    for c in (ch, dense):
        a = c(bits, torch.Generator().manual_seed(1))
        assert a.dtype == dtype and a.shape == bits.shape
        assert torch.equal(a, c(bits, torch.Generator().manual_seed(1)))
        assert not torch.equal(a, c(bits, torch.Generator().manual_seed(2)))
    assert ch(torch.empty(2, 0)).shape == (2, 0)
    assert ch(torch.zeros(7)).shape == (7,)  # one row
