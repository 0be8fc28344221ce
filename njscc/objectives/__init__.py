"""Training objectives (gradient estimators and bounds), one registry: :data:`OBJECTIVES`.

    >>> from njscc import objectives
    >>> obj = objectives.get("vimco", n_samples=5)
    >>> obj.supports(model)                     # Support(ok=True) or Support(False, reason)
    >>> obj.prepare(model)                      # creates objective parameters, if any
    >>> loss, stats = obj(model, batch, channel, generator=g)
    >>> loss.backward()                         # stats: {"loss", "bound", "distortion", ...}

Bit codecs (codes over a binary channel): ``"vimco"`` (:class:`VIMCO`), ``"nvil"``
(:class:`NVIL`), ``"reinforce"`` (:class:`Reinforce`), ``"gumbel"`` (:class:`GumbelST`).
Variational codecs with a real latent: ``"elbo"``, ``"beta_vae"``, ``"vib"``, ``"therml"``
(:mod:`njscc.objectives.rate_distortion`); ``"iwae"``, ``"svi"``, ``"bsvi"`` (better inference,
:mod:`njscc.objectives.inference`); ``"telbo"``, ``"jmvae"``, ``"bivcca"`` (joint image–attribute
VAEs, :mod:`njscc.objectives.multimodal`); ``"mifr"``, ``"lmifr"`` (fair representations,
:mod:`njscc.objectives.fair`); ``"factorvae"``, ``"ffvae"`` (total-correlation penalties,
:mod:`njscc.objectives.disentangle`). Hierarchical codecs that compute their own
layer terms (RRVQ / VQ-VAE, U-Net HVAE): ``"hierarchical_elbo"``
(:mod:`njscc.objectives.hierarchical`). Exact likelihood of density codecs (flows): ``"nll"``
(:mod:`njscc.objectives.density`). Analog channel symbols (DeepJSCC):
``"jscc"`` (:class:`JSCC`). Plugins: entry-point group ``njscc.objectives``.
"""

from __future__ import annotations

from njscc.codec import LatentCodec, Support
from njscc.objectives.base import Objective, ScoreFunctionObjective
from njscc.objectives.density import NLL
from njscc.objectives.disentangle import FactorVAE, FFVAEObjective
from njscc.objectives.fair import LMIFR, MIFR
from njscc.objectives.gumbel import GumbelST
from njscc.objectives.hierarchical import HierarchicalELBO
from njscc.objectives.inference import BSVI, IWAE, SVI
from njscc.objectives.jscc import JSCC
from njscc.objectives.multimodal import JMVAE, TELBO, BiVCCA
from njscc.objectives.noise_injection import ExplicitGNI, GaussianNoiseInjection
from njscc.objectives.nvil import NVIL
from njscc.objectives.rate_distortion import ELBO, VIB, BetaVAE, TherML
from njscc.objectives.reinforce import Reinforce
from njscc.objectives.vimco import VIMCO
from njscc.registry import Registry

__all__ = ["BSVI", "ELBO", "FFVAEObjective", "FactorVAE", "IWAE", "JMVAE",
           "JSCC", "LMIFR", "MIFR", "NLL", "NVIL", "OBJECTIVES",
           "SVI", "TELBO",
           "VIB", "VIMCO", "BetaVAE", "BiVCCA", "ExplicitGNI", "GaussianNoiseInjection",
           "GumbelST", "HierarchicalELBO", "Objective",
           "Reinforce", "ScoreFunctionObjective", "Support", "TherML", "available",
           "default_for", "get", "register"]

#: the objective registry (entry-point group ``njscc.objectives``)
OBJECTIVES: Registry[Objective] = Registry("objective", "njscc.objectives", base=Objective)
for _name, _cls in (("vimco", VIMCO), ("nvil", NVIL), ("reinforce", Reinforce),
                    ("gumbel", GumbelST), ("elbo", ELBO), ("beta_vae", BetaVAE), ("vib", VIB),
                    ("therml", TherML), ("jscc", JSCC), ("gni", GaussianNoiseInjection),
                    ("gni_explicit", ExplicitGNI), ("iwae", IWAE), ("svi", SVI),
                    ("bsvi", BSVI), ("telbo", TELBO), ("jmvae", JMVAE), ("bivcca", BiVCCA),
                    ("mifr", MIFR), ("lmifr", LMIFR), ("factorvae", FactorVAE),
                    ("ffvae", FFVAEObjective), ("nll", NLL)):
    OBJECTIVES.register(_name, _cls)
# "discrete_elbo": its first name (the RRVQ runs of 2026-12-04 record it)
OBJECTIVES.register("hierarchical_elbo", HierarchicalELBO, aliases=("discrete_elbo",))


#: ``@register("name")``: make an :class:`Objective` subclass available as ``get("name")``
register = OBJECTIVES.register
#: registered objective names (plugins included), sorted
available = OBJECTIVES.available
#: ``get(name, **kwargs)``: build a registered objective (see :meth:`Registry.get`)
get = OBJECTIVES.get


def default_for(codec: LatentCodec) -> str:
    """The objective ``njscc train`` uses for ``codec`` when none is named: the first
    registered one (by name) that lists the codec's latent kind in ``default_for`` and
    supports it with its default arguments."""
    for entry in OBJECTIVES:
        cls = entry.factory
        if codec.latent.kind in getattr(cls, "default_for", ()):
            try:
                if cls().supports(codec):
                    return entry.name
            except (TypeError, ValueError):
                continue
    raise ValueError(f"no default objective for a {codec.latent.kind} latent; pass --objective "
                     f"(available: {', '.join(available())})")
