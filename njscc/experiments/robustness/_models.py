"""Loading the codecs a robustness study examines, with what their runs say about them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from njscc.codec import LatentCodec

__all__ = ["Victim", "eps_key", "find_runs", "load_victim"]


def eps_key(e: float) -> str:
    """A channel parameter as it appears in run names and result keys: ``0.1`` → ``"0.1"``."""
    return f"{float(e):g}"


@dataclass
class Victim:
    """A trained codec with its label, latent kind and training channel."""

    model: LatentCodec
    path: str
    label: str
    bits: bool
    train_eps: float | None
    channel: str | None
    objective: str | None
    beta: float | None

    def channel_at(self, eps: float | None = None) -> Any:
        """The model's training channel (or the same channel at ``eps``); ``None`` when it
        is noiseless or the latent is not bits."""
        import channels

        e = self.train_eps if eps is None else eps
        if not self.bits or not e:
            return None
        return channels.get(self.channel or "bsc", float(e))


def load_victim(path: str | Path) -> Victim:
    """Load ``path`` (a run or checkpoint) with gradients off; label it from its run info:
    ``"NECST m=100 ε=0.1"``, ``"VAE d=100"``, ``"β-VAE β=4 d=100"``."""
    from njscc.robustness.latents import latent_support
    from njscc.training import find_checkpoint, load_checkpoint, load_model

    ck = find_checkpoint(path)
    model = load_model(ck)
    ok = latent_support(model)
    if not ok:
        raise ValueError(f"{path}: {ok.reason}")
    for p in model.parameters():
        p.requires_grad_(False)
    extra = load_checkpoint(ck).extra if ck.is_dir() else {}
    run = extra.get("run", {})
    ch = run.get("channel") or {}
    obj = run.get("objective") or {}
    bits = model.latent.kind == "bits"
    eps = float(ch.get("train_param") or 0.0) if bits else None
    beta = (obj.get("kwargs") or {}).get("beta")
    kw = (getattr(model, "config", None) or {}).get("kwargs", {})
    if bits:
        label = f"NECST m={model.m} ε={eps:g}"
    elif callable(getattr(model, "lipschitz_constants", None)):
        consts = "/".join(f"{float(kw.get(k, 1.0)):g}" for k in
                          ("lipschitz_mean", "lipschitz_std", "lipschitz_decoder"))
        label = f"Lipschitz VAE {consts} d={model.m}"
    elif obj.get("name") == "beta_vae" and beta is not None and float(beta) != 1.0:
        label = f"β-VAE β={float(beta):g} d={model.m}"
    else:
        label = f"VAE d={model.m}"
    return Victim(model, str(path), label, bits, eps, ch.get("name") if bits else None,
                  obj.get("name"), None if beta is None else float(beta))


def find_runs(runs_dir: str | None, names: list[str]) -> list[str]:
    """``runs_dir/<name>`` for each name; ``FileNotFoundError`` naming every missing one."""
    if not runs_dir:
        raise ValueError("runs_dir: needed to find the models by name (or give their paths)")
    paths = [Path(runs_dir) / n for n in names]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"no such run(s): {', '.join(missing)} (train them — see "
                                "docs/robustness.md — or give the paths)")
    return [str(p) for p in paths]
