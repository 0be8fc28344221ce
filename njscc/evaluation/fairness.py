"""Information and fairness measures of a representation z of data x with a sensitive u.

Estimators (Song, Kalluri, Grover, Zhao & Ermon, AISTATS 2019, "Learning controllable fair
representations"; their evaluation protocol):

* :func:`kde_expressiveness` — I(x; z | u) = E[log q(z | x, u) − log q(z | u)], the aggregate
  posterior q(z | u) of each group replaced by a Gaussian kernel density estimate (scipy,
  Silverman's bandwidth) of that group's samples from another split;
* :func:`adversarial_mi` / :func:`fairness_information` — I(z; u) (demographic parity),
  I(z; u | y) (equalised odds, the mean over y of the per-label bounds) and I(z; u | y = 1)
  (equal opportunity) as E[log p_ψ(u | z) − log p(u)] within the examples concerned: a
  variational lower bound with p_ψ fitted by maximum likelihood on one split and evaluated
  on another, p(u) the frequencies of the fitting examples;
* :func:`fairness_gaps` — the demographic-parity, equalised-odds and equal-opportunity gaps of
  binary predictions ŷ;
* :func:`downstream_fairness` — a classifier fitted on one split's representation, its test
  accuracy and gaps with respect to a subgroup (FFVAE's evaluation), :func:`conjunction` of
  binary attributes, :func:`pareto_front` of (gap, accuracy) points,
  :func:`most_correlated_dims` (the latent dimensions that carry each attribute);
* :func:`fresh_total_correlation` — TC = KL(q(z) ‖ Π_blocks q(z_block)) by a density-ratio
  discriminator fitted after training on one split's samples and read on another's (the
  discriminator a FactorVAE / FFVAE trains with can be fooled by the encoder it chases).

Shapes: z float ``[N, d]``, u / y int64 ``[N]``, log q(z | x, u) float ``[N]``. Every
quantity is in nats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from njscc.nn.mlp import mlp

__all__ = ["Adversary", "adversarial_mi", "combine_bounds", "conjunction", "downstream_fairness",
           "fairness_gaps", "fairness_information", "fit_adversary", "fit_predict",
           "fresh_total_correlation",
           "kde_expressiveness", "log_frequencies", "most_correlated_dims", "pareto_front"]


def _check_rows(name: str, t: Tensor, n: int, ndim: int) -> None:
    if not isinstance(t, Tensor) or t.dim() != ndim or t.shape[0] != n:
        raise ValueError(f"{name}: expected a tensor with {ndim} dim(s) and {n} rows, got "
                         f"{getattr(t, 'shape', type(t).__name__)}")


def kde_expressiveness(z_fit: Tensor, u_fit: Tensor, z: Tensor, log_q: Tensor, u: Tensor,
                       bandwidth: str | float = "silverman") -> float:
    """I(x; z | u) ≈ mean of log q(z | x, u) − log KDE_u(z) over (``z``, ``log_q``, ``u``),
    where KDE_u is scipy's Gaussian KDE (full covariance, ``bandwidth`` rule or factor) of
    the group-u samples of ``z_fit`` — fitted on one split (training) and evaluated on
    another (test), as the reference evaluation does. ``z_fit`` ``[M, d]``, ``u_fit``
    ``[M]``, ``z`` ``[N, d]`` (one draw per example), ``log_q`` ``[N]``, ``u`` ``[N]``."""
    from scipy.stats import gaussian_kde

    n = z.shape[0]
    _check_rows("u_fit", u_fit, z_fit.shape[0], 1)
    _check_rows("log_q", log_q, n, 1)
    _check_rows("u", u, n, 1)
    total = 0.0
    for g in torch.unique(u).tolist():
        ref = z_fit[u_fit == g].double().numpy()
        if ref.shape[0] <= ref.shape[1]:
            raise ValueError(f"kde_expressiveness: group {g} has {ref.shape[0]} fitting "
                             f"samples for {ref.shape[1]} dimensions")
        kde = gaussian_kde(ref.T, bw_method=bandwidth)
        sel = u == g
        total += float((log_q[sel].double()
                        - torch.from_numpy(kde.logpdf(z[sel].double().numpy().T))).sum())
    return total / n


class Adversary(nn.Module):
    """p_ψ(u | z): an MLP on z → logits over the groups ``[N, G]`` (the reference's: one
    hidden layer of 50 softplus units)."""

    def __init__(self, d: int, n_groups: int = 2, hidden: Sequence[int] = (50,)) -> None:
        super().__init__()
        self.net = nn.Sequential(*mlp((d, *hidden, n_groups), "softplus"))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


def log_frequencies(u: Tensor, n_groups: int) -> Tensor:
    """log of the empirical p(u) ``[G]`` (a group never seen gets half a count)."""
    counts = torch.bincount(u, minlength=n_groups).to(torch.float64)
    return torch.log(counts.clamp_min(0.5) / counts.sum().clamp_min(1.0))


def fit_adversary(z: Tensor, u: Tensor, *, n_groups: int = 2, hidden: Sequence[int] = (50,),
                  epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, seed: int = 0
                  ) -> Adversary:
    """Fit p_ψ(u | z) by maximum likelihood (Adam, seeded) on ``z`` ``[N, d]``, ``u``
    ``[N]`` → the adversary (eval mode)."""
    n, d = z.shape
    _check_rows("u", u, n, 1)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    adv = Adversary(d, n_groups, hidden)
    opt = torch.optim.Adam(adv.parameters(), lr=lr)
    z = z.detach().float()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = nn.functional.cross_entropy(adv(z[idx]), u[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return adv.eval()


@torch.no_grad()
def adversarial_mi(adversary: nn.Module, z: Tensor, u: Tensor, *,
                   log_prior: Tensor | None = None) -> float:
    """E[log p_ψ(u | z) − log p(u)] on (``z`` ``[N, d]``, ``u`` ``[N]``) in nats — a lower
    bound on I(z; u) when ψ was fitted on other data. ``log_prior`` ``[G]``: log p(u) of the
    fitting split (default: these data's frequencies)."""
    n = z.shape[0]
    _check_rows("u", u, n, 1)
    logits = adversary(z.float()).double()
    prior = log_frequencies(u, logits.shape[-1]) if log_prior is None else log_prior.double()
    log_p = torch.log_softmax(logits, -1).gather(1, u[:, None]).squeeze(1)
    return float((log_p - prior[u]).mean())


def combine_bounds(bounds: Mapping[str, Any]) -> dict[str, Any]:
    """Per-adversary bounds (``dp`` on every example, ``y0`` / ``y1`` on each label's) →
    the constraints: ``dp``; ``eo`` = the mean of ``y0`` and ``y1``; ``eopp`` = ``y1``
    (those whose adversaries are present)."""
    out: dict[str, Any] = {}
    if "dp" in bounds:
        out["dp"] = bounds["dp"]
    if "y0" in bounds:
        out["eo"] = 0.5 * (bounds["y0"] + bounds["y1"])
    if "y1" in bounds:
        out["eopp"] = bounds["y1"]
    return out


def fairness_information(z_fit: Tensor, u_fit: Tensor, y_fit: Tensor, z: Tensor, u: Tensor,
                         y: Tensor, **fit: Any) -> dict[str, float]:
    """The three adversarial bounds with fresh adversaries fitted on (``z_fit``, ``u_fit``,
    ``y_fit``) and evaluated on (``z``, ``u``, ``y``): ``dp`` = I(z; u), ``eopp`` =
    I(z; u | y = 1) (an adversary on the y = 1 examples), ``eo`` = I(z; u | y) as the mean
    over y ∈ {0, 1} of the per-label bounds (the reference's form). ``fit``: keyword
    arguments of :func:`fit_adversary`."""
    _check_rows("y_fit", y_fit, z_fit.shape[0], 1)
    _check_rows("y", y, z.shape[0], 1)
    groups = int(max(int(u_fit.max()), int(u.max()))) + 1
    out: dict[str, float] = {}
    for name, keep_fit, keep in (("dp", None, None), ("y0", y_fit == 0, y == 0),
                                 ("y1", y_fit == 1, y == 1)):
        zf, uf = (z_fit, u_fit) if keep_fit is None else (z_fit[keep_fit], u_fit[keep_fit])
        ze, ue = (z, u) if keep is None else (z[keep], u[keep])
        if not len(uf) or not len(ue):
            raise ValueError(f"fairness_information: no examples for {name}")
        adv = fit_adversary(zf, uf, n_groups=groups, **fit)
        out[name] = adversarial_mi(adv, ze, ue, log_prior=log_frequencies(uf, groups))
    return combine_bounds(out)


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


def conjunction(attributes: Sequence[Tensor]) -> Tensor:
    """The subgroup indicator a_1 ∧ … ∧ a_n of binary (0/1) attributes, int64 ``[N]``."""
    if not attributes:
        raise ValueError("conjunction: at least one attribute")
    out = torch.ones_like(attributes[0])
    for j, a in enumerate(attributes):
        if a.shape != out.shape or (len(a) and (int(a.min()) < 0 or int(a.max()) > 1)):
            raise ValueError(f"conjunction: attribute {j} must be 0/1 with shape "
                             f"{list(out.shape)}")
        out = out * a
    return out


def downstream_fairness(r_fit: Tensor, y_fit: Tensor, r: Tensor, y: Tensor, s: Tensor, *,
                        seed: int = 0, **fit: Any) -> dict[str, float]:
    """Fit an MLP classifier p(y | r) (:func:`fit_adversary`'s network and training) on
    (``r_fit`` ``[M, d]``, ``y_fit`` ``[M]``), both standardised with ``r_fit``'s statistics,
    predict the binary y on ``r`` ``[N, d]`` and return :func:`fairness_gaps` with respect
    to the subgroup indicator ``s`` ``[N]`` (``accuracy``, ``dp``, ``eo``, ``eopp``)."""
    _check_rows("y", y, r.shape[0], 1)
    return fairness_gaps(fit_predict(r_fit, y_fit, r, seed=seed, **fit), s, y)


def fit_predict(r_fit: Tensor, y_fit: Tensor, r: Tensor, *, n_classes: int = 2, seed: int = 0,
                **fit: Any) -> Tensor:
    """The classifier of :func:`downstream_fairness` fitted on (``r_fit`` ``[M, d]``,
    ``y_fit`` ``[M]``), both standardised with ``r_fit``'s statistics → its predictions on
    ``r`` ``[N, d]`` (int64 ``[N]``)."""
    _check_rows("y_fit", y_fit, r_fit.shape[0], 1)
    mu, sd = r_fit.mean(0), r_fit.std(0).clamp_min(1e-6)
    clf = fit_adversary((r_fit - mu) / sd, y_fit, n_groups=n_classes, seed=seed, **fit)
    with torch.no_grad():
        return clf(((r - mu) / sd).float()).argmax(-1)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (gap, accuracy) points — no other point has a gap as low
    and an accuracy as high, one of them strictly — sorted by gap."""
    keep = []
    for i, (g, a) in enumerate(points):
        if not any((g2 <= g and a2 >= a) and (g2 < g or a2 > a)
                   for j, (g2, a2) in enumerate(points) if j != i):
            keep.append(i)
    return sorted(keep, key=lambda i: (points[i][0], -points[i][1]))


def most_correlated_dims(z: Tensor, attributes: Sequence[Tensor]) -> list[int]:
    """For each attribute (``[N]`` each), the dimension of ``z`` ``[N, d]`` with the largest
    absolute correlation with it, chosen greedily without repeats (the dimension a FactorVAE
    baseline drops to hide that attribute)."""
    zc = (z - z.mean(0)) / z.std(0).clamp_min(1e-8)
    taken: list[int] = []
    for a in attributes:
        _check_rows("attribute", a, z.shape[0], 1)
        af = a.to(z.dtype)
        ac = (af - af.mean()) / af.std().clamp_min(1e-8)
        corr = (zc * ac[:, None]).mean(0).abs()
        if taken:
            corr[taken] = -1.0
        taken.append(int(corr.argmax()))
    return taken


def fresh_total_correlation(z_fit: Tensor, z: Tensor, blocks: Sequence[Sequence[int]], *,
                            epochs: int = 10, batch_size: int = 256,
                            hidden: Sequence[int] = (256, 256), lr: float = 1e-3, seed: int = 0
                            ) -> float:
    """TC of the blocks of z (nats): a new :class:`~njscc.objectives.disentangle.TCDiscriminator`
    trained (Adam, seeded) to tell samples ``z_fit`` ``[M, d]`` from their block-permuted
    copies, then :func:`~njscc.objectives.disentangle.tc_estimate` on ``z`` ``[N, d]``."""
    from njscc.objectives.disentangle import TCDiscriminator, permute_blocks, tc_estimate

    if z_fit.dim() != 2 or z.dim() != 2 or z_fit.shape[1] != z.shape[1]:
        raise ValueError(f"fresh_total_correlation: z_fit {list(z_fit.shape)} and z "
                         f"{list(z.shape)} must be [N, d] with the same d")
    cols = sorted(c for b in blocks for c in b)
    if cols != list(range(z.shape[1])):
        raise ValueError(f"fresh_total_correlation: blocks {[list(b) for b in blocks]} must "
                         f"partition the {z.shape[1]} columns")
    n = z_fit.shape[0]
    if n < 2 * batch_size:
        batch_size = max(n // 2, 1)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    disc = TCDiscriminator(z.shape[1], hidden)
    opt = torch.optim.Adam(disc.parameters(), lr=lr)
    steps = epochs * (n // batch_size)
    # the learning rate decays linearly to 0: the last iterate, whose logits are read, is
    # not one noisy step of a constant-rate run (that swings the estimate by ±0.1 nats)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: max(1.0 - t / steps, 0.0))
    z_fit = z_fit.detach().float()
    target = torch.cat([torch.zeros(batch_size), torch.ones(batch_size)]).long()
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n - batch_size + 1, batch_size):
            zb = z_fit[order[i:i + batch_size]]
            both = torch.cat([zb, permute_blocks(zb, blocks, g)])
            loss = nn.functional.cross_entropy(disc(both), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    with torch.no_grad():
        return float(tc_estimate(disc.eval()(z.detach().float())))
