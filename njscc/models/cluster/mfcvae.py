"""MFCVAE — multi-facet clustering VAE (Falck, Zhang, Willetts, Nicholls, Yau & Holmes,
NeurIPS 2021; reference code FabianFalck/mfcvae).

The latent splits into J facets z = (z_0, …, z_{J−1}); facet j has its own discrete cluster
c_j ∈ {1 … C_j} and a mixture-of-Gaussians prior

    p(c_j) = softmax(π_j),   p(z_j | c_j) = N(μ_{j,c}, diag σ²_{j,c}),   p(x | z) = decoder,

so each facet clusters the data by a different aspect (on MNIST: digit class in one, style
in the other). The categorical posterior is the exact one given z, q(c_j | x) = p(c_j | z_j)
(VaDE's choice, optimised analytically), which makes the categorical part of the ELBO exact:
per facet Σ_c q(c) [log π_c + log N_c − log q(c)] = log p(z_j), the mixture marginal. The rate
is therefore the Monte-Carlo Σ_j [log q(z_j | x) − log p(z_j)] (the reference's five terms
sum to it; a test checks the identity).

**Architecture** (the reference's ``fc_vlae`` ladder, defaults = its MNIST configuration):

* encoder: backbone layers ``enc_backbone`` (ReLU), facet j's Gaussian head reads the output
  of backbone layer j, so facet 0 is the shallow one (784 → 500 → head) and facet J − 1 the
  deepest (… → 2000 → head);
* decoder: the deepest facet starts the ladder, z_{J−1} → ``dec_rung[J−1]`` →
  ``dec_backbone[J−1]``; every other facet enters by a rung z_j → ``dec_rung[j]`` added to
  the ladder as ``b ← 0.1·α_j·rung + b`` (the reference's ``gated_add``) followed by
  ``dec_backbone[j]``; then a linear layer to the pixels and a sigmoid mean;
* likelihood ``"gaussian"`` with a *fixed* scale 0.35 (``scale``; ``learn_scale=True``
  learns it) on grey MNIST in [0, 1], as the reference.

**Progressive training** (Li et al. 2020, ProVLAE; the reference's schedule): training starts
with the deepest facet only; every ``stage_steps`` optimisation steps the next shallower facet
is faded in, its decoder rung α_j and its KL weight γ_j rising linearly from 0 to 1 over
``fade_in_steps``. The Trainer announces the step (:meth:`training_step`); the step is a
buffer of the model, so a resumed or reloaded model is at the same point of the schedule.
While a facet is faded out its weight γ_j = 0, so ``rate`` is then the *weighted* rate; after
the schedule (all γ = 1) it is the full KL and ``elbo`` is the ELBO.

Latent: ``real(Σ d_j)`` (facets concatenated in order); posterior ``[B, 2·Σd]`` = (means of
all facets, log-variances of all facets). Clusters: :meth:`responsibilities`,
:meth:`assign`; data-dependent prior initialisation (a diagonal GMM on the facets' posterior
means, as the reference): :meth:`init_prior`; compositional sampling: :meth:`sample`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from njscc.models import register
from njscc.models.vae.base import LOGVAR_RANGE, GaussianLatentCodec
from njscc.priors import Prior, diag_gaussian_log_prob
from njscc.validation import (
    LIMITS,
    check_bool,
    check_int,
    check_int_tuple,
    check_number,
)

__all__ = ["MFCVAE", "FacetMixturePrior"]

#: σ² = softplus_β(raw) with β = 10, the reference's variance parameterisation
_SOFTPLUS_BETA = 10.0


def _softplus_inverse(y: float, beta: float = _SOFTPLUS_BETA) -> float:
    return math.log(math.expm1(beta * y)) / beta


class FacetMixturePrior(Prior):
    """Independent mixture-of-Gaussians priors, one per facet: p(z) = Π_j Σ_c π_{j,c}
    N(z_j; μ_{j,c}, diag σ²_{j,c}).

    Per facet: mixture logits ``logits_j`` ``[C_j]`` (init uniform), means ``means_j``
    ``[C_j, d_j]`` (init 0; :meth:`MFCVAE.init_prior` sets them from data) and raw variances
    with σ² = softplus_10(raw) (init σ² = ``var_init``).
    """

    def __init__(self, dims: Sequence[int], n_clusters: Sequence[int],
                 var_init: float = 0.01) -> None:
        super().__init__()
        self.dims = tuple(dims)
        self.n_clusters = tuple(n_clusters)
        self.dim = sum(self.dims)
        raw = _softplus_inverse(var_init)
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(c)) for c in self.n_clusters)
        self.means = nn.ParameterList(nn.Parameter(torch.zeros(c, d))
                                      for c, d in zip(self.n_clusters, self.dims, strict=True))
        self.raw_vars = nn.ParameterList(nn.Parameter(torch.full((c, d), raw))
                                         for c, d in zip(self.n_clusters, self.dims, strict=True))

    def split(self, z: Tensor) -> list[Tensor]:
        """``[..., Σd]`` → the facets ``[..., d_j]``."""
        return list(z.split(self.dims, -1))

    def variances(self, j: int) -> Tensor:
        """σ²_{j,c}, ``[C_j, d_j]``."""
        return F.softplus(self.raw_vars[j], beta=_SOFTPLUS_BETA)

    def joint(self, j: int, zj: Tensor) -> Tensor:
        """log π_{j,c} + log N(z_j; μ_{j,c}, σ²_{j,c}): ``[..., d_j]`` → ``[..., C_j]``."""
        logvar = torch.log(self.variances(j))
        comp = diag_gaussian_log_prob(zj.unsqueeze(-2), self.means[j], logvar)
        return comp + torch.log_softmax(self.logits[j], 0)

    def facet_log_prob(self, z: Tensor) -> Tensor:
        """log p(z_j) per facet: ``[..., Σd]`` → ``[..., J]``."""
        return torch.stack([torch.logsumexp(self.joint(j, zj), -1)
                            for j, zj in enumerate(self.split(z))], -1)

    def log_prob(self, z: Tensor) -> Tensor:
        return self.facet_log_prob(z).sum(-1)

    def responsibilities(self, z: Tensor) -> list[Tensor]:
        """p(c_j | z_j) per facet, each ``[..., C_j]`` (rows sum to 1)."""
        return [torch.softmax(self.joint(j, zj), -1) for j, zj in enumerate(self.split(z))]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               clusters: Sequence[Tensor | None] | None = None,
               temperature: float = 1.0) -> Tensor:
        """``n`` draws ``[n, Σd]``: per facet c_j ~ p(c_j) (or the given ``clusters[j]``
        ``[n]``), z_j ~ N(μ_{j,c}, temperature²·σ²_{j,c})."""
        parts = []
        for j in range(len(self.dims)):
            given = None if clusters is None else clusters[j]
            if given is None:
                probs = torch.softmax(self.logits[j], 0)
                c = torch.multinomial(probs, n, replacement=True, generator=generator)
            else:
                c = torch.as_tensor(given, dtype=torch.long, device=self.means[j].device)
            eps = torch.randn(n, self.dims[j], generator=generator,
                              device=self.means[j].device, dtype=self.means[j].dtype)
            parts.append(self.means[j][c] + temperature * eps * self.variances(j)[c].sqrt())
        return torch.cat(parts, -1)


class _LadderEncoder(nn.Module):
    """Backbone layers with a Gaussian head after each: ``x`` → ``[B, 2Σd]``."""

    def __init__(self, in_dim: int, backbone: Sequence[int], dims: Sequence[int]) -> None:
        super().__init__()
        sizes = (in_dim, *backbone)
        self.backbone = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:],
                                                                      strict=False))
        self.mean = nn.ModuleList(nn.Linear(b, d) for b, d in zip(backbone, dims, strict=True))
        self.logvar = nn.ModuleList(nn.Linear(b, d) for b, d in zip(backbone, dims, strict=True))

    def forward(self, x: Tensor) -> Tensor:
        h, means, logvars = x.flatten(1), [], []
        for layer, mu, lv in zip(self.backbone, self.mean, self.logvar, strict=True):
            h = F.relu(layer(h))
            means.append(mu(h))
            logvars.append(lv(h))
        return torch.cat([*means, *logvars], -1)


class _LadderDecoder(nn.Module):
    """Deepest facet first; the others join by gated rungs (module docstring)."""

    def __init__(self, dims: Sequence[int], rung: Sequence[int], backbone: Sequence[int],
                 out_dim: int, merge_scale: float) -> None:
        super().__init__()
        j_top = len(dims) - 1
        self.merge_scale = merge_scale
        self.rung = nn.ModuleList(nn.Linear(d, r) for d, r in zip(dims, rung, strict=True))
        ins = [backbone[j + 1] if j < j_top else rung[j] for j in range(len(dims))]
        self.backbone = nn.ModuleList(nn.Linear(i, b) for i, b in zip(ins, backbone,
                                                                      strict=True))
        self.out = nn.Linear(backbone[0], out_dim)

    def forward(self, facets: Sequence[Tensor], alphas: Sequence[float]) -> Tensor:
        top = len(facets) - 1
        b = F.relu(self.backbone[top](F.relu(self.rung[top](facets[top]))))
        for j in range(top - 1, -1, -1):
            r = F.relu(self.rung[j](facets[j]))
            b = F.relu(self.backbone[j](self.merge_scale * alphas[j] * r + b))
        return self.out(b)


@register("mfcvae")
class MFCVAE(GaussianLatentCodec):
    """Multi-facet clustering VAE (module docstring).

    Args:
        z_dims: latent dimensions per facet (J = its length).
        n_clusters: clusters C_j per facet.
        data_shape: ``(C, H, W)`` images or ``(D,)`` features (flattened).
        enc_backbone: encoder backbone widths, one per facet (facet j's head reads layer j).
        dec_rung, dec_backbone: decoder rung and backbone widths per facet
            (``dec_rung[j] == dec_backbone[j + 1]`` for j < J − 1: the rung is added there).
        likelihood: ``"gaussian"`` (sigmoid mean, reference) or ``"bernoulli"``.
        scale: the Gaussian likelihood's standard deviation (fixed unless ``learn_scale``).
        merge_scale: the rung's gate constant (0.1).
        progressive: train the facets progressively (deepest first).
        stage_steps: optimisation steps per progressive stage (reference: 201 epochs of
            118 batches of 512).
        fade_in_steps: steps over which a new facet's α_j and γ_j rise from 0 to 1.
        var_init: initial prior variances σ²_{j,c}.
    """

    data_ndim = None
    likelihoods = ("gaussian", "bernoulli")

    def __init__(
        self,
        z_dims: Sequence[int] = (5, 5),
        n_clusters: Sequence[int] = (25, 25),
        data_shape: Sequence[int] = (1, 28, 28),
        enc_backbone: Sequence[int] = (500, 2000),
        dec_rung: Sequence[int] = (500, 2000),
        dec_backbone: Sequence[int] = (500, 500),
        likelihood: str = "gaussian",
        scale: float = 0.35,
        learn_scale: bool = False,
        merge_scale: float = 0.1,
        progressive: bool = True,
        stage_steps: int = 23_718,
        fade_in_steps: int = 15_000,
        var_init: float = 0.01,
    ) -> None:
        dims = check_int_tuple(z_dims, "z_dims", max=LIMITS["latent_dims"])
        super().__init__(sum(dims), data_shape, likelihood, "normal", 1)
        self.z_dims = dims
        n_j = len(dims)
        self.n_clusters = check_int_tuple(n_clusters, "n_clusters", max=LIMITS["hidden"])
        enc = check_int_tuple(enc_backbone, "enc_backbone", max=LIMITS["hidden"])
        rung = check_int_tuple(dec_rung, "dec_rung", max=LIMITS["hidden"])
        back = check_int_tuple(dec_backbone, "dec_backbone", max=LIMITS["hidden"])
        for name, val in (("n_clusters", self.n_clusters), ("enc_backbone", enc),
                          ("dec_rung", rung), ("dec_backbone", back)):
            if len(val) != n_j:
                raise ValueError(f"{name}: expected one entry per facet ({n_j}, the length of "
                                 f"z_dims), got {len(val)}")
        if any(c < 2 for c in self.n_clusters):
            raise ValueError(f"n_clusters: every facet needs at least 2 clusters, got "
                             f"{list(self.n_clusters)}")
        for j in range(n_j - 1):
            if rung[j] != back[j + 1]:
                raise ValueError(f"dec_rung[{j}] ({rung[j]}) must equal dec_backbone[{j + 1}] "
                                 f"({back[j + 1]}): facet {j}'s rung is added there")
        self.progressive = check_bool(progressive, "progressive")
        self.stage_steps = check_int(stage_steps, "stage_steps", min=0)
        self.fade_in_steps = check_int(fade_in_steps, "fade_in_steps", min=0)
        self.learn_scale = check_bool(learn_scale, "learn_scale")
        self.encoder = _LadderEncoder(self.data_dim, enc, dims)
        self.decoder = _LadderDecoder(dims, rung, back, self.data_dim,
                                      check_number(merge_scale, "merge_scale", min=0))
        self.prior = FacetMixturePrior(dims, self.n_clusters,
                                       check_number(var_init, "var_init", min=0, min_open=True))
        s = check_number(scale, "scale", min=0, min_open=True)
        if self.likelihood == "gaussian":
            if self.learn_scale:
                self.decoder.log_scale = nn.Parameter(torch.tensor(math.log(s)))
            else:
                self.decoder.register_buffer("log_scale", torch.tensor(math.log(s)))
        #: the training step the schedule is at (set by the Trainer; saved with the model)
        self.register_buffer("schedule_step", torch.zeros((), dtype=torch.long))

    @property
    def log_scale(self) -> Tensor | None:
        return self.decoder.log_scale if self.likelihood == "gaussian" else None

    # ------------------------------------------------------------------ schedule
    def training_step(self, step: int) -> None:
        """Called by the Trainer before optimisation step ``step`` (0-based, global)."""
        self.schedule_step.fill_(int(step))

    def schedule(self, step: int | None = None) -> dict[str, list[float]]:
        """Progressive-training coefficients at ``step`` (default: the model's):
        ``alpha`` (decoder rung gates) and ``gamma`` (KL weights), one per facet."""
        n_j = len(self.z_dims)
        if not self.progressive or n_j == 1:
            return {"alpha": [1.0] * n_j, "gamma": [1.0] * n_j}
        t = int(self.schedule_step) if step is None else int(step)
        stage = n_j - 1 if self.stage_steps == 0 else min(t // self.stage_steps, n_j - 1)
        into = t - stage * self.stage_steps
        fade = 1.0 if stage == 0 or self.fade_in_steps == 0 else min(into / self.fade_in_steps,
                                                                      1.0)
        coef = []
        for j in range(n_j):
            k = n_j - 1 - j  # facets counted from the deepest
            coef.append(1.0 if k < stage else fade if k == stage else 0.0)
        return {"alpha": coef, "gamma": list(coef)}

    # ------------------------------------------------------------------ model
    def encode(self, x: Tensor) -> Tensor:
        """``x`` ``[B, *data_shape]`` → (means of all facets, log-variances) ``[B, 2Σd]``."""
        self._check_x(x)
        h = self.encoder(x.reshape(x.shape[0], -1))
        mean, logvar = h.chunk(2, -1)
        return torch.cat([mean, logvar.clamp(*LOGVAR_RANGE)], -1)

    def decode(self, z: Tensor) -> Tensor:
        """``z`` ``[..., Σd]`` → pixel parameters ``[..., *data_shape]`` (pre-sigmoid)."""
        if z.shape[-1] != self.m:
            raise ValueError(f"z must have last dim Σd = {self.m}, got shape {list(z.shape)}")
        lead = z.shape[:-1]
        facets = self.prior.split(z.reshape(-1, self.m))
        out = self.decoder(facets, self.schedule()["alpha"])
        return out.reshape(*lead, *self.data_shape)

    def log_prior(self, z: Tensor, **conditions: Tensor) -> Tensor:
        """log p(z) = Σ_j log Σ_c π_c N(z_j; μ_c, σ_c²), ``[..., Σd]`` → ``[...]``."""
        return self.prior.log_prob(z)

    def facet_rates(self, h: Tensor, z: Tensor) -> Tensor:
        """Per facet, the Monte-Carlo mean over ``z`` ``[K, B, Σd]`` of log q(z_j | x) −
        log p(z_j) → ``[B, J]`` (nats; = KL_z + KL_c of the reference with q(c|x) = p(c|z))."""
        mean, logvar = self.split(h)
        lq = torch.stack([diag_gaussian_log_prob(zj, mj, lj) for zj, mj, lj in zip(
            self.prior.split(z), self.prior.split(mean), self.prior.split(logvar),
            strict=True)], -1)
        return (lq - self.prior.facet_log_prob(z)).mean(0)

    def rate(self, h: Tensor, z: Tensor | None = None, analytic: bool = True,
             **conditions: Tensor) -> Tensor:
        """Σ_j γ_j · rate_j per input ``[B]`` (the categorical part exact, the Gaussian part
        Monte Carlo over ``z``; γ from the progressive schedule, all 1 after it)."""
        if z is None:
            raise ValueError("mfcvae: the rate needs the samples z (Monte Carlo over z)")
        gamma = torch.tensor(self.schedule()["gamma"], dtype=h.dtype, device=h.device)
        return (self.facet_rates(h, z) * gamma).sum(-1)

    # ------------------------------------------------------------------ clusters
    @torch.no_grad()
    def responsibilities(self, x: Tensor) -> list[Tensor]:
        """q(c_j | x) = p(c_j | μ_j(x)) at the posterior mean, each ``[B, C_j]``."""
        return self.prior.responsibilities(self.compress(x))

    @torch.no_grad()
    def assign(self, x: Tensor) -> Tensor:
        """The most probable cluster of every facet, int64 ``[B, J]``."""
        return torch.stack([r.argmax(-1) for r in self.responsibilities(x)], -1)

    @torch.no_grad()
    def init_prior(self, z_means: Tensor, seed: int = 0) -> None:
        """The reference's initialisation: per facet a diagonal Gaussian mixture
        (scikit-learn) fitted to the facets of ``z_means`` ``[N, Σd]`` (posterior means of the
        training data) gives the component means; variances stay at ``var_init``."""
        from sklearn.mixture import GaussianMixture

        if z_means.dim() != 2 or z_means.shape[1] != self.m:
            raise ValueError(f"z_means must have shape [N, {self.m}], got {list(z_means.shape)}")
        for j, zj in enumerate(self.prior.split(z_means.double().cpu())):
            if zj.shape[0] < self.n_clusters[j]:
                raise ValueError(f"init_prior: {zj.shape[0]} points for {self.n_clusters[j]} "
                                 f"clusters")
            gmm = GaussianMixture(self.n_clusters[j], covariance_type="diag",
                                  random_state=int(seed)).fit(zj.numpy())
            self.prior.means[j].copy_(torch.from_numpy(np.asarray(gmm.means_)).to(
                self.prior.means[j]))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               clusters: Sequence[Tensor | None] | None = None,
               temperature: float = 1.0) -> Tensor:
        """``n`` images from the prior (decoder means ``[n, *data_shape]``); ``clusters[j]``
        (``[n]`` or ``None``) fixes facet j's cluster — compositional generation."""
        return self.decompress(self.prior.sample(n, generator, clusters, temperature))

    def extra_repr(self) -> str:
        return f"facets={list(self.z_dims)}, clusters={list(self.n_clusters)}"
