"""Information and fairness measures of a representation z of data x with a sensitive u.

Estimators (Song, Kalluri, Grover, Zhao & Ermon, AISTATS 2019, "Learning controllable fair
representations"; their evaluation protocol):

* :func:`kde_expressiveness` — I(x; z | u) = E[log q(z | x, u) − log q(z | u)], the aggregate
  posterior q(z | u) of each group replaced by a Gaussian kernel density estimate of that
  group's samples (leave-one-out, so a sample does not score itself);
* :func:`adversarial_mi` — I(z; u) (demographic parity), I(z; u | y) (equalised odds) and
  I(z; u | y = 1) (equal opportunity) as E[log p_ψ(u | z[, y]) − log p(u[ | y])]: a
  variational lower bound with p_ψ fitted by maximum likelihood (here a small MLP) on one
  split and evaluated on another, p(u | y) the empirical frequencies of the fitting split;
* :func:`fairness_gaps` — the demographic-parity, equalised-odds and equal-opportunity gaps of
  binary predictions ŷ.

Shapes: z float ``[N, d]``, u / y int64 ``[N]``, log q(z | x, u) float ``[N]``. Every
quantity is in nats.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from njscc.nn.mlp import mlp

__all__ = ["adversarial_mi", "fairness_gaps", "fit_adversary", "gaussian_kde_log_density",
           "kde_expressiveness", "scott_bandwidth"]


def _check_rows(name: str, t: Tensor, n: int, ndim: int) -> None:
    if not isinstance(t, Tensor) or t.dim() != ndim or t.shape[0] != n:
        raise ValueError(f"{name}: expected a tensor with {ndim} dim(s) and {n} rows, got "
                         f"{getattr(t, 'shape', type(t).__name__)}")


def scott_bandwidth(ref: Tensor) -> Tensor:
    """Scott's rule per dimension, h_k = σ_k · M^(−1/(d+4)) for ``ref`` ``[M, d]`` → ``[d]``
    (scipy's ``gaussian_kde`` default on a diagonal covariance)."""
    m, d = ref.shape
    sd = ref.std(0).clamp_min(1e-6) if m > 1 else torch.ones(d, dtype=ref.dtype)
    return sd * m ** (-1.0 / (d + 4))


def gaussian_kde_log_density(query: Tensor, ref: Tensor, bandwidth: Tensor | float | None = None,
                             *, leave_one_out: bool = False, chunk: int = 2048) -> Tensor:
    """log of the Gaussian KDE (1/M) Σ_j N(query; ref_j, diag h²) → ``[N]``.

    ``query`` ``[N, d]``, ``ref`` ``[M, d]``; ``bandwidth`` h ``[d]`` or a scalar (default:
    :func:`scott_bandwidth`). ``leave_one_out`` (query is ref, N = M) drops each point's own
    kernel and divides by M − 1.
    """
    if query.dim() != 2 or ref.dim() != 2 or query.shape[1] != ref.shape[1]:
        raise ValueError(f"query [N, d] and ref [M, d] with the same d expected, got "
                         f"{list(query.shape)} and {list(ref.shape)}")
    m, d = ref.shape
    if leave_one_out and (query.shape[0] != m or m < 2):
        raise ValueError("leave_one_out needs query = ref with at least 2 points")
    h = scott_bandwidth(ref) if bandwidth is None else torch.as_tensor(
        bandwidth, dtype=ref.dtype).expand(d)
    norm = -0.5 * d * math.log(2 * math.pi) - torch.log(h).sum()
    out = []
    for i in range(0, query.shape[0], chunk):
        q = query[i:i + chunk]
        sq = ((q.unsqueeze(1) - ref.unsqueeze(0)) / h).square().sum(-1)  # [n, M]
        logk = -0.5 * sq
        if leave_one_out:
            rows = torch.arange(q.shape[0])
            logk[rows, rows + i] = -math.inf
        out.append(torch.logsumexp(logk, 1))
    count = m - 1 if leave_one_out else m
    return torch.cat(out) + norm - math.log(count)


def kde_expressiveness(z: Tensor, log_q: Tensor, u: Tensor,
                       bandwidth: Tensor | float | None = None) -> float:
    """I(x; z | u) ≈ mean over samples of log q(z | x, u) − log KDE_u(z), where KDE_u is the
    leave-one-out Gaussian KDE of the z of the same group (Scott's bandwidth per group unless
    given). ``z`` ``[N, d]`` (one draw per example), ``log_q`` ``[N]``, ``u`` ``[N]``."""
    n = z.shape[0]
    _check_rows("log_q", log_q, n, 1)
    _check_rows("u", u, n, 1)
    total = torch.zeros((), dtype=torch.float64)
    for g in torch.unique(u):
        sel = u == g
        if int(sel.sum()) < 2:
            raise ValueError(f"kde_expressiveness: group {int(g)} has fewer than 2 samples")
        zg = z[sel].double()
        logk = gaussian_kde_log_density(zg, zg, bandwidth, leave_one_out=True)
        total += (log_q[sel].double() - logk).sum()
    return float(total / n)


class _Adversary(nn.Module):
    """p_ψ(u | z[, y]): an MLP on z (and one-hot y) → logits over the groups."""

    def __init__(self, d: int, n_groups: int, n_labels: int, hidden: Sequence[int]) -> None:
        super().__init__()
        self.n_labels = n_labels
        self.net = nn.Sequential(*mlp((d + n_labels, *hidden, n_groups), "relu"))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.n_labels:
            z = torch.cat([z, nn.functional.one_hot(y, self.n_labels).to(z.dtype)], -1)
        return self.net(z)


def fit_adversary(z: Tensor, u: Tensor, y: Tensor | None = None, *, n_groups: int = 2,
                  n_labels: int = 2, hidden: Sequence[int] = (50,), epochs: int = 50,
                  batch_size: int = 256, lr: float = 1e-3, seed: int = 0) -> nn.Module:
    """Fit p_ψ(u | z) (``y`` None) or p_ψ(u | z, y) by maximum likelihood (Adam) → the
    adversary module (``adv(z[, y])`` gives logits ``[N, n_groups]``)."""
    n, d = z.shape
    _check_rows("u", u, n, 1)
    if y is not None:
        _check_rows("y", y, n, 1)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    adv = _Adversary(d, n_groups, n_labels if y is not None else 0, hidden)
    opt = torch.optim.Adam(adv.parameters(), lr=lr)
    z = z.detach().float()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            logits = adv(z[idx], None if y is None else y[idx])
            loss = nn.functional.cross_entropy(logits, u[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return adv.eval()


def _log_freq(u: Tensor, n_groups: int) -> Tensor:
    counts = torch.bincount(u, minlength=n_groups).double()
    return torch.log(counts.clamp_min(0.5) / counts.sum())


@torch.no_grad()
def adversarial_mi(adversary: nn.Module, z: Tensor, u: Tensor, y: Tensor | None = None, *,
                   prior_u: Tensor | None = None, prior_u_given_y: Tensor | None = None,
                   only_label: int | None = None) -> float:
    """E[log p_ψ(u | z[, y]) − log p(u[ | y])] on (z, u, y) in nats (a lower bound on the
    mutual information when ψ is fitted on other data).

    ``prior_u`` ``[G]`` / ``prior_u_given_y`` ``[L, G]``: log frequencies of the fitting split
    (default: of these data). ``only_label``: average over the examples with ``y == only_label``
    only (I(z; u | y = 1), equal opportunity).
    """
    n = z.shape[0]
    _check_rows("u", u, n, 1)
    logits = adversary(z.float(), y) if y is not None else adversary(z.float())
    n_groups = logits.shape[-1]
    log_p = torch.log_softmax(logits.double(), -1).gather(1, u[:, None]).squeeze(1)
    if y is None:
        prior = _log_freq(u, n_groups) if prior_u is None else prior_u.double()
        base = prior[u]
    else:
        _check_rows("y", y, n, 1)
        if prior_u_given_y is None:
            n_labels = int(y.max()) + 1
            prior_u_given_y = torch.stack([_log_freq(u[y == k], n_groups)
                                           for k in range(n_labels)])
        base = prior_u_given_y.double()[y, u]
    diff = log_p - base
    if only_label is not None:
        if y is None:
            raise ValueError("only_label needs y")
        diff = diff[y == only_label]
    return float(diff.mean())


def fairness_gaps(pred: Tensor, u: Tensor, y: Tensor) -> dict[str, float]:
    """Gaps of binary predictions ``pred`` ``[N]`` between groups u ∈ {0, 1}:

    * ``dp`` = |P(ŷ = 1 | u = 0) − P(ŷ = 1 | u = 1)| (demographic parity);
    * ``eo`` = max over y ∈ {0, 1} of |P(ŷ = 1 | u = 0, y) − P(ŷ = 1 | u = 1, y)| (equalised
      odds: the larger of the FPR and TPR gaps);
    * ``eopp`` = the TPR gap (y = 1 only, equal opportunity);
    * ``accuracy``.
    """
    n = pred.shape[0]
    _check_rows("u", u, n, 1)
    _check_rows("y", y, n, 1)
    p = pred.double()

    def rate(sel: Tensor) -> float:
        if not bool(sel.any()):
            raise ValueError("fairness_gaps: an empty group (every group needs examples of "
                             "every label)")
        return float(p[sel].mean())

    dp = abs(rate(u == 0) - rate(u == 1))
    per_y = [abs(rate((u == 0) & (y == k)) - rate((u == 1) & (y == k))) for k in (0, 1)]
    return {"accuracy": float((pred == y).double().mean()), "dp": dp, "eo": max(per_y),
            "eopp": per_y[1]}
