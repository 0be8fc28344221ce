"""Model registry: every architecture is a :class:`njscc.codec.LatentCodec` built by name.

    >>> from njscc import models
    >>> model = models.get("necst_mlp", m=100)
    >>> model.config
    {'name': 'necst_mlp', 'kwargs': {'m': 100, 'data_shape': [1, 28, 28], ...}}
    >>> same = models.get(model.config["name"], **model.config["kwargs"])

``config["kwargs"]`` holds *all* constructor arguments (defaults filled in) as JSON values
(tuples become lists), so a checkpoint rebuilds the same architecture even if defaults change.
Families live in sub-packages (``necst/``, ``vae/``, ``vib/``, ``deepjscc/``); a new family is
new files plus one ``@register`` — or, from another package, an entry point in the
``njscc.models`` group (see :mod:`njscc.registry`).
"""

from __future__ import annotations

from njscc.codec import LatentCodec
from njscc.registry import Registry

__all__ = ["MODELS", "VAEMLP", "VIBMLP", "BinaryDeepJSCC", "DeepJSCC", "FFVAE", "FairVAE",
           "FlowICA", "HierarchicalVQ", "IVAE", "UNetHVAE", "JointVAE", "MFCVAE",
           "LipschitzVAE", "MLPClassifier", "NecstConv", "NecstMLP", "NecstMLPTF",
           "SNRAdaptiveDeepJSCC", "available", "get", "register"]

#: the model registry (entry-point group ``njscc.models``)
MODELS: Registry[LatentCodec] = Registry("model", "njscc.models", base=LatentCodec)


#: ``@register("name")``: make a :class:`LatentCodec` subclass available as ``get("name")``
register = MODELS.register
#: registered model names (plugins included), sorted
available = MODELS.available
#: ``get(name, **kwargs)``: build a registered model (see :meth:`Registry.get`)
get = MODELS.get


# Registered architectures (imported for their @register side effect).
from njscc.models.classifier.mlp import MLPClassifier  # noqa: E402
from njscc.models.cluster import MFCVAE  # noqa: E402
from njscc.models.deepjscc import BinaryDeepJSCC, DeepJSCC, SNRAdaptiveDeepJSCC  # noqa: E402
from njscc.models.fair import FFVAE, FairVAE  # noqa: E402
from njscc.models.hvae import UNetHVAE  # noqa: E402
from njscc.models.ica import IVAE, FlowICA  # noqa: E402
from njscc.models.multimodal.joint import JointVAE  # noqa: E402
from njscc.models.necst.conv import NecstConv  # noqa: E402
from njscc.models.necst.mlp import NecstMLP, NecstMLPTF  # noqa: E402
from njscc.models.vae.lipschitz import LipschitzVAE  # noqa: E402
from njscc.models.vae.mlp import VAEMLP  # noqa: E402
from njscc.models.vib.mlp import VIBMLP  # noqa: E402
from njscc.models.vq import HierarchicalVQ  # noqa: E402
