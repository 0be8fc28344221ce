"""BSC, BEC and Z channels: statistics, marginals, gradients, capacities, LLRs, validation.

Statistical checks use two-sided 99.9 % binomial bounds: an empirical frequency of ``n``
independent Bernoulli(p) trials satisfies ``|p̂ − p| ≤ z·sqrt(p(1−p)/n)`` with probability
≈ 0.999 for ``z = z_{0.9995} = 3.2905`` (normal approximation; n·p ≥ 100 everywhere here).
Seeds are fixed, so every check is deterministic.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import optimize

import channels
from channels import (
    ERASED,
    LLR_MAX,
    BinaryErasureChannel,
    BinarySymmetricChannel,
    ZChannel,
    binary_entropy,
)
from channels._sampling import bernoulli_positions
from channels._validate import check_bits

Z999 = 3.2905267314919255  # z_{0.9995}: two-sided 99.9 %
N = 1 << 20  # ≥ 1e6 bits per statistical check


def binom_tol(p: float, n: int) -> float:
    """Half-width of the two-sided 99.9 % normal-approximation binomial bound."""
    return Z999 * math.sqrt(p * (1.0 - p) / n)


def random_bits(n: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n,), generator=g).to(dtype)


# eps values cover the sparse (small / near-1) and dense sampling paths
EPS = [0.003, 0.05, 0.3, 0.5, 0.93, 0.999]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.uint8, torch.bool, torch.int64]


# ----------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("eps", EPS)
def test_bsc_flip_rate(eps: float, generator: torch.Generator) -> None:
    bits = random_bits(N, torch.float32)
    y = BinarySymmetricChannel(eps)(bits, generator)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    rate = (y != bits).double().mean().item()
    assert abs(rate - eps) <= binom_tol(eps, N)


@pytest.mark.parametrize("eps", EPS)
def test_bec_erasure_rate_and_encoding(eps: float, generator: torch.Generator) -> None:
    bits = random_bits(N, torch.float32)
    y = BinaryErasureChannel(eps)(bits, generator)
    erased = y == ERASED
    assert set(y.unique().tolist()) <= {0.0, 1.0, -1.0}
    assert torch.equal(y[~erased], bits[~erased])  # never an error, only erasures
    assert abs(erased.double().mean().item() - eps) <= binom_tol(eps, N)


@pytest.mark.parametrize("eps", EPS)
def test_z_channel_rates(eps: float, generator: torch.Generator) -> None:
    bits = random_bits(N, torch.float32)
    y = ZChannel(eps)(bits, generator)
    ones = bits == 1
    assert torch.all(y[~ones] == 0)  # 0 is always received as 0
    n1 = int(ones.sum())
    rate = (y[ones] == 0).double().mean().item()
    assert abs(rate - eps) <= binom_tol(eps, n1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls", [BinarySymmetricChannel, ZChannel])
def test_dtype_and_shape_kept(cls: type, dtype: torch.dtype, generator: torch.Generator) -> None:
    bits = random_bits(4 * 8192, dtype).view(4, 8192)
    for eps in (0.02, 0.3):  # sparse and dense paths
        y = cls(eps)(bits, generator)
        assert y.dtype == dtype and y.shape == bits.shape
        flips = (y.to(torch.int64) != bits.to(torch.int64)).double().mean().item()
        expect = eps if cls is BinarySymmetricChannel else eps * bits.double().mean().item()
        assert abs(flips - expect) <= binom_tol(eps, bits.numel()) + 1e-12


@pytest.mark.parametrize("dtype", DTYPES)
def test_bec_output_dtype(dtype: torch.dtype, generator: torch.Generator) -> None:
    bits = random_bits(20000, dtype).view(10, 2000)
    expected = torch.int8 if dtype in (torch.bool, torch.uint8) else dtype
    for eps in (0.0, 0.02, 0.3, 0.97, 1.0):
        y = BinaryErasureChannel(eps)(bits, generator)
        assert y.dtype == expected and y.shape == bits.shape
        kept = y != ERASED
        assert torch.equal(y[kept].to(torch.int64), bits[kept].to(torch.int64))
    assert BinaryErasureChannel.output_dtype(torch.uint8) == torch.int8


def test_endpoints_are_deterministic() -> None:
    bits = random_bits(1000, torch.float32)
    assert torch.equal(BinarySymmetricChannel(0.0)(bits), bits)
    assert torch.equal(BinarySymmetricChannel(1.0)(bits), 1 - bits)
    assert torch.equal(BinaryErasureChannel(0.0)(bits), bits)
    assert torch.all(BinaryErasureChannel(1.0)(bits) == ERASED)
    assert torch.equal(ZChannel(0.0)(bits), bits)
    assert torch.all(ZChannel(1.0)(bits) == 0)


def test_non_contiguous_and_empty_inputs(generator: torch.Generator) -> None:
    bits = random_bits(200 * 300, torch.float32).view(200, 300).t()  # non-contiguous
    for ch in (BinarySymmetricChannel(0.01), BinarySymmetricChannel(0.4),
               BinaryErasureChannel(0.01), ZChannel(0.6)):
        y = ch(bits, generator)
        assert y.shape == bits.shape
        assert ch(torch.empty(0, 5), generator).shape == (0, 5)
    # errors land where they should: BSC at eps=0.01 changes about 1 % of entries
    y = BinarySymmetricChannel(0.01)(bits, generator)
    assert 0 < (y != bits).sum() < 0.03 * bits.numel()


def test_reproducible_with_seed() -> None:
    bits = random_bits(50000, torch.float32).view(5, 10000)
    for ch in (BinarySymmetricChannel(0.01), BinarySymmetricChannel(0.2),
               BinaryErasureChannel(0.3), ZChannel(0.02)):
        a = ch(bits, torch.Generator().manual_seed(7))
        b = ch(bits, torch.Generator().manual_seed(7))
        c = ch(bits, torch.Generator().manual_seed(8))
        assert torch.equal(a, b)
        assert not torch.equal(a, c)


def test_bernoulli_positions_exact_counts_and_uniformity() -> None:
    g = torch.Generator().manual_seed(3)
    for n, p in [(1 << 22, 2e-5), (1 << 20, 0.01), (1 << 20, 0.07), (1000, 0.5)]:
        pos = bernoulli_positions(n, p, torch.device("cpu"), g)
        assert pos.dtype == torch.int64
        assert torch.all(pos[1:] > pos[:-1]) and (pos.numel() == 0 or (0 <= pos[0]
                                                                        and pos[-1] < n))
        assert abs(pos.numel() / n - p) <= binom_tol(p, n)
    # positions are uniform: chi-square over 16 equal bins, 99.9 % quantile of chi2(15) = 37.7
    pos = bernoulli_positions(1 << 20, 0.01, torch.device("cpu"), g)
    counts = torch.bincount(pos * 16 // (1 << 20), minlength=16).double()
    exp = counts.sum() / 16
    assert ((counts - exp) ** 2 / exp).sum().item() < 37.7
    assert bernoulli_positions(10, 0.0, torch.device("cpu"), g).numel() == 0
    assert torch.equal(bernoulli_positions(10, 1.0, torch.device("cpu"), g), torch.arange(10))


# ----------------------------------------------------------------------------- marginals
CHANNELS = [BinarySymmetricChannel(0.1), BinaryErasureChannel(0.25), ZChannel(0.3),
            BinarySymmetricChannel(0.0), BinaryErasureChannel(1.0)]


@pytest.mark.parametrize("ch", CHANNELS, ids=repr)
def test_marginal_shape_and_normalisation(ch: channels.BinaryChannel) -> None:
    probs = torch.rand(3, 4, 7, dtype=torch.float64)
    pm = ch.marginal(probs)
    assert pm.shape == (3, 4, 7, len(ch.alphabet)) and pm.dtype == torch.float64
    assert torch.allclose(pm.sum(-1), torch.ones(3, 4, 7, dtype=torch.float64))
    assert torch.all(pm >= 0)


@pytest.mark.parametrize("ch", CHANNELS[:3], ids=repr)
def test_marginal_matches_monte_carlo(ch: channels.BinaryChannel,
                                      generator: torch.Generator) -> None:
    m, k = 6, 200_000
    probs = torch.tensor([0.0, 0.1, 0.35, 0.5, 0.8, 1.0])
    bits = (torch.rand(k, m, generator=generator) < probs).float()
    y = ch(bits, generator)
    pm = ch.marginal(probs)  # [m, S]
    for s, sym in enumerate(ch.alphabet):
        freq = (y == sym).double().mean(0)
        for j in range(m):
            p = pm[j, s].item()
            assert abs(freq[j].item() - p) <= binom_tol(p, k) + 1e-12, (sym, j)


@pytest.mark.parametrize("ch", CHANNELS[:3], ids=repr)
def test_marginal_closed_forms(ch: channels.BinaryChannel) -> None:
    p = torch.linspace(0, 1, 11, dtype=torch.float64)
    eps = ch.eps
    pm = ch.marginal(p)
    if isinstance(ch, BinarySymmetricChannel):
        assert torch.allclose(pm[:, 1], p * (1 - eps) + (1 - p) * eps)
    elif isinstance(ch, BinaryErasureChannel):
        want = torch.stack(((1 - p) * (1 - eps), p * (1 - eps), torch.full_like(p, eps)), -1)
        assert torch.allclose(pm, want)
    else:
        assert torch.allclose(pm[:, 1], p * (1 - eps))


@pytest.mark.parametrize("ch", CHANNELS[:3], ids=repr)
def test_marginal_gradcheck_wrt_logits(ch: channels.BinaryChannel) -> None:
    logits = torch.randn(2, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ch.marginal(torch.sigmoid(x)), (logits,))


# ----------------------------------------------------------------------------- capacities
def _mutual_information(ch: channels.BinaryChannel, p1: float) -> float:
    """I(X;Y) in bits for P(X=1) = p1, from the channel's own marginal."""
    probs = torch.tensor([0.0, 1.0, p1], dtype=torch.float64)
    pm = ch.marginal(probs)  # rows: p(y|x=0), p(y|x=1), p(y)

    def h(row: torch.Tensor) -> float:
        r = row[row > 0]
        return float(-(r * r.log2()).sum())

    return h(pm[2]) - (1 - p1) * h(pm[0]) - p1 * h(pm[1])


@pytest.mark.parametrize("eps", [0.0, 0.01, 0.11, 0.3, 0.5, 0.77, 1.0])
def test_capacities_closed_forms_and_numeric_maximum(eps: float) -> None:
    assert BinarySymmetricChannel(eps).capacity == pytest.approx(1 - binary_entropy(eps),
                                                                 abs=1e-12)
    assert BinaryErasureChannel(eps).capacity == pytest.approx(1 - eps, abs=1e-12)
    z = ZChannel(eps)
    if 0 < eps < 1:
        closed = math.log2(1 + (1 - eps) * eps ** (eps / (1 - eps)))
        assert z.capacity == pytest.approx(closed, abs=1e-12)
    # independent check: maximise I(X;Y) over the input distribution numerically
    for ch in (BinarySymmetricChannel(eps), BinaryErasureChannel(eps), z):
        res = optimize.minimize_scalar(lambda p, ch=ch: -_mutual_information(ch, p),
                                       bounds=(0, 1), method="bounded",
                                       options={"xatol": 1e-10})
        assert ch.capacity == pytest.approx(-res.fun, abs=1e-7), ch


def test_known_capacity_values() -> None:
    assert BinarySymmetricChannel(0.11).capacity == pytest.approx(0.500084, abs=1e-6)
    assert ZChannel(0.5).capacity == pytest.approx(math.log2(1.25), abs=1e-12)  # 0.321928
    assert ZChannel(0.0).capacity == 1.0 and ZChannel(1.0).capacity == 0.0


# ----------------------------------------------------------------------------- LLRs
def test_llr_values_and_sign() -> None:
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    l_bsc = BinarySymmetricChannel(0.1).llr(y)
    big = math.log(0.9 / 0.1)
    assert torch.allclose(l_bsc, torch.tensor([-big, big, big, -big]))
    assert l_bsc.dtype == torch.float32
    # uint8 input gives default-dtype LLRs
    assert BinarySymmetricChannel(0.1).llr(y.to(torch.uint8)).dtype == torch.get_default_dtype()
    assert torch.equal(BinarySymmetricChannel(0.0).llr(y), torch.tensor([-100., 100, 100, -100]))
    # BSC with eps > 1/2: a received 1 more likely came from a 0
    assert BinarySymmetricChannel(0.9).llr(torch.tensor([1.0])).item() < 0
    ye = torch.tensor([0, 1, ERASED], dtype=torch.int8)
    assert torch.equal(BinaryErasureChannel(0.3).llr(ye), torch.tensor([-LLR_MAX, LLR_MAX, 0.0]))
    lz = ZChannel(0.2).llr(torch.tensor([0.0, 1.0]))
    assert lz[0].item() == pytest.approx(math.log(0.2)) and lz[1].item() == LLR_MAX
    assert ZChannel(0.0).llr(torch.tensor([0.0])).item() == -LLR_MAX


@pytest.mark.parametrize("ch", CHANNELS[:3], ids=repr)
def test_llr_is_posterior_log_ratio(ch: channels.BinaryChannel) -> None:
    """llr(y) = log p(y|x=1)/p(y|x=0), read off the marginal at p = 0 and p = 1."""
    pm = ch.marginal(torch.tensor([0.0, 1.0], dtype=torch.float64))
    y = torch.tensor(ch.alphabet, dtype=torch.float64)
    want = (pm[1].log() - pm[0].log()).nan_to_num(0.0).clamp(-LLR_MAX, LLR_MAX)
    assert torch.allclose(ch.llr(y), want)


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad, exc", [(-0.1, ValueError), (1.5, ValueError),
                                      (float("nan"), ValueError), (float("inf"), ValueError),
                                      ("0.1", TypeError), (True, TypeError), (1j, TypeError),
                                      (None, TypeError), (torch.tensor([0.1, 0.2]), ValueError)])
@pytest.mark.parametrize("cls", [BinarySymmetricChannel, BinaryErasureChannel, ZChannel])
def test_bad_eps(cls: type, bad: object, exc: type) -> None:
    with pytest.raises(exc, match="eps"):
        cls(bad)


def test_eps_accepts_numeric_scalars() -> None:
    import numpy as np

    assert BinarySymmetricChannel(np.float32(0.25)).eps == 0.25
    assert BinarySymmetricChannel(torch.tensor(0.5)).eps == 0.5
    assert BinarySymmetricChannel(1).eps == 1.0


@pytest.mark.parametrize("bad, exc, match", [
    ([0, 1, 1], TypeError, "torch.Tensor, got list"),
    (torch.tensor([0, 1], dtype=torch.complex64), TypeError, "complex64"),
    (torch.tensor([0.0, 0.5, 1.0]), ValueError, "0.5"),
    (torch.tensor([0.0, 1.0, float("nan")]), ValueError, "nan"),
    (torch.tensor([0.0, float("inf")]), ValueError, "inf"),
    (torch.tensor([-1.0, 1.0]), ValueError, "-1"),  # bipolar input
    (torch.tensor([0, 2], dtype=torch.uint8), ValueError, "2"),
    (torch.tensor([0, 255], dtype=torch.uint8), ValueError, "255"),
    (torch.tensor([0, -1], dtype=torch.int32), ValueError, "-1"),
    (torch.tensor([0.0, 0.99999994]), ValueError, "0.99999"),
    (torch.tensor([1.0, 1.0, 0.0, 1e-30]), ValueError, "e-30"),
])
def test_bad_bits(bad: object, exc: type, match: str) -> None:
    for ch in (BinarySymmetricChannel(0.1), BinaryErasureChannel(0.1), ZChannel(0.1)):
        with pytest.raises(exc, match="bits") as info:
            ch(bad)
        assert match in str(info.value)


def test_check_bits_accepts_all_binary_forms() -> None:
    for dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8,
                  torch.int8, torch.int64, torch.bool):
        check_bits(random_bits(1000, dtype))
    check_bits(torch.tensor([-0.0, 1.0]))  # negative zero is a zero
    check_bits(torch.empty(0))
    check_bits(torch.ones(3, 4).t())
    # no validation at all when disabled
    BinarySymmetricChannel(0.1, validate=False)(torch.tensor([0.5]))


def test_probs_and_received_must_be_tensors() -> None:
    ch = BinarySymmetricChannel(0.1)
    with pytest.raises(TypeError, match="probs"):
        ch.marginal(torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="probs"):
        ch.marginal([0.5])
    with pytest.raises(TypeError, match="received"):
        ch.llr(torch.tensor([1j]))


# ----------------------------------------------------------------------------- registry
def test_registry() -> None:
    assert channels.available() == ("awgn", "awgn_soft", "bec", "bsc", "ge", "z")
    assert isinstance(channels.get("bsc", 0.1), BinarySymmetricChannel)
    assert channels.get("BEC", 0.2).param == 0.2
    assert channels.get("z", 0.3).name == "z"
    assert channels.get("awgn", 0.0).param == 0.0
    assert channels.get("awgn", 1.0, output="soft").output == "soft"
    soft = channels.get("awgn_soft", 1.0)
    assert soft.output == "soft" and soft.name == "awgn_soft" and soft.soft_output
    with pytest.raises(ValueError, match="awgn_soft"):
        channels.get("awgn_soft", 1.0, output="hard")
    assert channels.get("ge", 0.05).param == pytest.approx(0.05)
    with pytest.raises(ValueError,
                       match="unknown channel 'foo'; available: awgn, awgn_soft, bec, bsc, ge, z"):
        channels.get("foo", 0.1)
    with pytest.raises(TypeError, match="bsc"):
        channels.get("bsc", 0.1, colour="red")
    with pytest.raises(ValueError, match="eps"):
        channels.get("bsc", 2.0)
    for name in channels.available():
        ch = channels.get(name, 0.1)
        assert ch.name == name and isinstance(ch.capacity, float)
        assert "_bsc" not in dict(ch.named_modules())


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name, param", [("bsc", 0.01), ("bsc", 0.3), ("bec", 0.2), ("z", 1e-4),
                                         ("awgn", 2.0), ("ge", 0.05)])
def test_cuda_sampling_statistics(name: str, param: float) -> None:
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    ch = channels.get(name, param)
    bits = torch.randint(0, 2, (256, 4096), device=dev, generator=g).float()
    y = ch(bits, g)
    assert y.device.type == "cuda" and y.dtype == bits.dtype and y.shape == bits.shape
    n = bits.numel()
    if name == "bec":
        assert abs((y == ERASED).double().mean().item() - param) <= binom_tol(param, n)
    elif name == "ge":  # correlated errors: a loose bound (the CPU tests are the exact ones)
        assert abs((y != bits).double().mean().item() - ch.error_probability) < 0.005
    else:
        p = ch.error_probability
        assert abs((y != bits).double().mean().item() - p) <= binom_tol(p, n)
    a = ch(bits, torch.Generator(device=dev).manual_seed(3))
    assert torch.equal(a, ch(bits, torch.Generator(device=dev).manual_seed(3)))
