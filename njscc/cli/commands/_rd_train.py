"""``njscc train`` options for continuous-latent codecs (``--model vae``, ``--beta``).

Kept apart from :mod:`njscc.cli.commands.train` so that command needs only two hooks:
:func:`add_rd_train_arguments` (adds ``--beta``) and :func:`adapt_rd_train_args` (maps the
``vae`` alias to ``vae_mlp``, picks the ``beta_vae`` objective instead of the NECST default
``vimco`` and makes the Trainer's channel noiseless, since continuous latents are not sent over
binary channels; returns extra objective keyword arguments).

    njscc train --model vae --beta 0.5 --preset binarized_mnist --data-dir DATA --m 32 --K 1
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["MODEL_ALIASES", "adapt_rd_train_args", "add_rd_train_arguments"]

MODEL_ALIASES = {"vae": "vae_mlp"}
RD_OBJECTIVES = ("beta_vae", "elbo")


def add_rd_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beta", type=float, default=None,
                   help="continuous-latent models (--model vae): rate weight β of the β-VAE "
                   "objective D + β·R (1 = ELBO); --m is then the latent dimension, --K the "
                   "number of reparameterised samples, and the channel options are ignored")


def adapt_rd_train_args(args: argparse.Namespace) -> dict[str, Any]:
    """Adjust ``args`` in place for continuous-latent models; returns extra objective kwargs
    (``{}`` for bit codecs, which are left untouched)."""
    from njscc import models
    from njscc.models.vae.base import GaussianLatentCodec

    args.model = MODEL_ALIASES.get(args.model, args.model)
    if args.model in ("vib", "vib_mlp"):
        raise ValueError("--model vib: VIB classifiers train on labelled data; use `njscc vib`")
    cls = models._REGISTRY.get(args.model)  # noqa: SLF001 - read-only lookup
    if cls is None or not issubclass(cls, GaussianLatentCodec):
        if getattr(args, "beta", None) is not None:
            raise ValueError(f"--beta applies to continuous-latent models (--model vae), not "
                             f"{args.model!r}")
        return {}
    if args.objective == "vimco":  # the NECST default
        args.objective = "beta_vae"
    if args.objective not in RD_OBJECTIVES:
        raise ValueError(f"--objective {args.objective!r} cannot train {args.model}; use one of "
                         f"{', '.join(RD_OBJECTIVES)}")
    beta = getattr(args, "beta", None)
    if beta is not None and beta < 0:
        raise ValueError(f"--beta must be >= 0, got {beta}")
    args.channel, args.train_eps, args.test_eps = "bsc", 0.0, 0.0  # noiseless (ignored)
    if args.objective == "beta_vae":
        return {"beta": 1.0 if beta is None else float(beta)}
    if beta not in (None, 1.0):
        raise ValueError("--objective elbo has β = 1; use --objective beta_vae for other β")
    return {}
