"""Every objective makes progress: 200 Adam steps on MNIST-like data lower the loss.

Uses the embedded MNIST subset shipped with the package when it is there, else a fixed
synthetic set of blob images. The model is a narrow NECST MLP so that each run takes a few
seconds on one core.
"""

from __future__ import annotations

import pytest
import torch

import channels
from njscc import objectives
from njscc.models import NecstMLP


def _images(n: int = 2000) -> torch.Tensor:
    try:
        from njscc.data import load_dataset

        return load_dataset("embedded", "train").images[:n].clone()
    except (ImportError, ValueError, FileNotFoundError, AttributeError):
        g = torch.Generator().manual_seed(0)
        yy, xx = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
        c = torch.rand(n, 3, 2, generator=g) * 16 + 6  # three blobs per image
        d2 = (yy - c[..., 0, None, None]).square() + (xx - c[..., 1, None, None]).square()
        return torch.exp(-d2 / 8).sum(1).clamp(0, 1).unsqueeze(1)


def _channel(eps: float):
    return channels.get("bsc", eps)


@pytest.mark.parametrize("name,kwargs", [("vimco", {}), ("nvil", {}), ("reinforce", {}),
                                         ("gumbel", {"tau": 0.5})])
def test_training_lowers_loss(name, kwargs):
    torch.manual_seed(0)
    images = _images()
    x_eval = images[:500]
    ch = _channel(0.05)
    model = NecstMLP(m=32, enc_hidden=[128], dec_hidden=[128, 128])
    obj = objectives.get(name, **kwargs)
    obj.prepare(model)
    opts = [torch.optim.Adam(ps, lr=2e-3) for ps in
            (list(model.encoder.parameters()), list(model.decoder.parameters()),
             list(obj.parameters())) if ps]

    def evaluate() -> float:
        obj.eval()
        with torch.no_grad():
            _, stats = obj(model, x_eval, ch, generator=torch.Generator().manual_seed(1))
        obj.train()
        return stats["loss"]

    before = evaluate()
    g = torch.Generator().manual_seed(2)
    for step in range(200):
        idx = torch.randint(0, images.shape[0], (100,), generator=g)
        loss, stats = obj(model, images[idx], ch, generator=g)
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()
        assert all(torch.isfinite(torch.tensor(v)) for v in stats.values()), (step, stats)
    after = evaluate()
    assert after < 0.4 * before, (before, after)
    # below the best code-independent reconstruction (the mean image): the code carries
    # information, so the encoder's gradient estimates work too
    mean_image_sse = (x_eval - x_eval.mean(0)).square().flatten(1).sum(1).mean().item()
    assert after < 0.95 * mean_image_sse, (after, mean_image_sse)
