"""Models: shapes, registry round trips, compress/decompress, erasures, validation."""

from __future__ import annotations

import json
import math

import pytest
import torch

from channels.base import ERASED
from njscc import models
from njscc.codec import LatentCodec, decoder_input
from njscc.models import NecstConv, NecstMLP


def _small(name: str, **kw):
    if name == "necst_mlp":
        return models.get(name, m=kw.pop("m", 16), enc_hidden=[32], dec_hidden=[32, 32], **kw)
    return models.get(name, m=kw.pop("m", 16), base_channels=8, max_channels=32, **kw)


def test_registry_lists_models_and_rejects_unknown():
    assert {"necst_mlp", "necst_conv"} <= set(models.available())
    assert models.available() == sorted(models.available())
    with pytest.raises(ValueError, match=r"unknown model 'vae9'.*necst_conv, necst_mlp"):
        models.get("vae9")
    with pytest.raises(TypeError, match=r"unknown argument\(s\) hiden; it accepts: m, "):
        models.get("necst_mlp", hiden=3)
    with pytest.raises(ValueError, match="likelihood"):
        models.get("necst_mlp", likelihood="poisson")
    with pytest.raises(ValueError, match="m: expected a positive integer, got 0"):
        models.get("necst_mlp", m=0)
    with pytest.raises(TypeError, match="m: expected a positive integer, got float"):
        models.get("necst_mlp", m=2.5)
    with pytest.raises(ValueError, match="data_shape"):
        models.get("necst_mlp", data_shape=[28, 28])
    for bad in ([3, 27, 27], [1, 6, 6]):  # odd, or too small for one stride-2 stage
        with pytest.raises(ValueError, match="data_shape"):
            models.get("necst_conv", data_shape=bad)
    conv = models.get("necst_conv", m=20, data_shape=[1, 28, 28])  # MNIST: 28 → 14 → 7
    assert conv.encoder[-1].in_features == 64 * 7 * 7
    assert conv.decode(torch.zeros(3, 20)).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="data_shape"):
        models.get("necst_conv", data_shape=[3, 32, 64])


def test_register_rejects_clash_and_non_codecs():
    with pytest.raises(ValueError, match="already registered"):
        models.register("necst_mlp")(type("Other", (LatentCodec,), {}))
    with pytest.raises(TypeError):
        models.register("thing")(int)


def test_reference_mlp_architecture():
    model = models.get("necst_mlp")
    assert isinstance(model, NecstMLP) and model.m == 100 and model.likelihood == "sse"
    lin = [mod for mod in model.modules() if isinstance(mod, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [
        (784, 500), (500, 100), (100, 500), (500, 500), (500, 784)]
    assert all(m.bias is None for m in lin)
    acts = [mod for mod in model.modules() if isinstance(mod, torch.nn.LeakyReLU)]
    assert len(acts) == 3 and all(a.negative_slope == 0.2 for a in acts)
    # Glorot-uniform init, as TF's dense default
    bound = math.sqrt(6 / (784 + 500))
    w = model.encoder[1].weight
    assert w.abs().max() <= bound and w.abs().max() > 0.95 * bound


@pytest.mark.parametrize("name,shape", [("necst_mlp", (1, 28, 28)), ("necst_conv", (3, 32, 32)),
                                        ("necst_conv", (1, 64, 64)), ("necst_mlp", (3, 8, 8))])
def test_shapes_and_k_leading_dims(name, shape):
    model = _small(name, data_shape=list(shape))
    x = torch.rand(4, *shape)
    logits = model.encode(x)
    assert logits.shape == (4, 16) and logits.dtype == torch.float32
    y = torch.randint(0, 2, (4, 16)).float()
    assert model.decode(y).shape == (4, *shape)
    yk = torch.randint(0, 2, (5, 4, 16)).float()
    out = model.decode(yk)
    assert out.shape == (5, 4, *shape)
    # the K samples are decoded independently: same as one at a time
    torch.testing.assert_close(out[2], model.decode(yk[2]), rtol=1e-5, atol=1e-5)
    assert model.log_prob(x, out).shape == (5, 4)
    with pytest.raises(ValueError, match="last dim m=16"):
        model.decode(torch.zeros(4, 15))
    with pytest.raises(ValueError, match="x must have shape"):
        model.encode(torch.rand(4, 5))


@pytest.mark.parametrize("name", ["necst_mlp", "necst_conv"])
def test_registry_round_trip_and_state_dict(name):
    shape = [1, 28, 28] if name == "necst_mlp" else [3, 32, 32]
    model = _small(name, data_shape=tuple(shape), likelihood="gaussian")
    cfg = json.loads(json.dumps(model.config))  # JSON round trip: tuples became lists
    assert cfg["name"] == name and cfg["kwargs"]["data_shape"] == shape
    clone = models.get(cfg["name"], **cfg["kwargs"])
    assert clone.config == cfg
    assert str(clone) == str(model)
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, *shape)
    torch.testing.assert_close(clone.encode(x), model.encode(x))
    y = torch.randint(0, 2, (2, 16)).float()
    torch.testing.assert_close(clone.decode(y), model.decode(y))
    assert "decoder.log_scale" in model.state_dict()


def test_direct_construction_has_a_config_too():
    model = NecstConv(m=8, data_shape=(1, 16, 16), base_channels=4)
    assert model.config["name"] == "necst_conv"
    again = models.get(model.config["name"], **model.config["kwargs"])
    again.load_state_dict(model.state_dict())


@pytest.mark.parametrize("name", ["necst_mlp", "necst_conv"])
def test_compress_decompress(name):
    shape = (1, 28, 28) if name == "necst_mlp" else (3, 32, 32)
    model = _small(name, data_shape=shape)
    x = torch.rand(3, *shape)
    bits = model.compress(x)
    assert bits.dtype == torch.uint8 and bits.shape == (3, 16)
    assert set(bits.unique().tolist()) <= {0, 1}
    assert torch.equal(bits, (model.encode(x) > 0).to(torch.uint8))
    x_hat = model.decompress(bits)
    assert x_hat.shape == x.shape and x_hat.min() >= 0 and x_hat.max() <= 1
    assert not x_hat.requires_grad
    # uint8 and float received words decode the same
    torch.testing.assert_close(x_hat, model.decompress(bits.float()))


@pytest.mark.parametrize("name", ["necst_mlp", "necst_conv"])
def test_erasures_accepted(name):
    shape = (1, 28, 28) if name == "necst_mlp" else (1, 32, 32)
    model = _small(name, data_shape=shape)
    y = torch.tensor([[0, 1, ERASED, 1] * 4, [ERASED] * 16], dtype=torch.int8)
    x_hat = model.decompress(y)
    assert x_hat.shape == (2, *shape) and torch.isfinite(x_hat).all()
    # an erasure is the midpoint of the two bipolar values: decoder_input gives 0
    assert decoder_input(y)[1].abs().sum() == 0
    torch.testing.assert_close(model.decompress(y.float()), x_hat)


def test_likelihoods():
    x = torch.rand(3, 1, 4, 4)
    params = torch.randn(2, 3, 1, 4, 4)
    mu = torch.sigmoid(params)
    kw = dict(m=4, data_shape=(1, 4, 4), enc_hidden=[], dec_hidden=[])
    sse = NecstMLP(likelihood="sse", **kw).log_prob(x, params)
    torch.testing.assert_close(sse, -(x - mu).square().sum((-3, -2, -1)))
    bern = NecstMLP(likelihood="bernoulli", **kw).log_prob(x, params)
    ref = (x * mu.log() + (1 - x) * (1 - mu).log()).sum((-3, -2, -1))
    torch.testing.assert_close(bern, ref)
    model = NecstMLP(likelihood="gaussian", init_scale=0.3, **kw)
    gauss = model.log_prob(x, params)
    normal = torch.distributions.Normal(mu, 0.3)
    torch.testing.assert_close(gauss, normal.log_prob(x.expand_as(mu)).sum((-3, -2, -1)))
    assert model.decoder.log_scale.requires_grad
    assert any(p is model.decoder.log_scale for p in model.decoder.parameters())


def test_encoder_and_decoder_are_separate_submodules():
    for name in ("necst_mlp", "necst_conv"):
        model = _small(name)
        enc = {id(p) for p in model.encoder.parameters()}
        dec = {id(p) for p in model.decoder.parameters()}
        assert enc and dec and not enc & dec
        assert enc | dec == {id(p) for p in model.parameters()}


def _channel(name: str, eps: float):
    from channels import discrete

    cls = {"bsc": discrete.BinarySymmetricChannel, "bec": discrete.BinaryErasureChannel}[name]
    return cls(eps)


@pytest.mark.parametrize("chan", ["bsc", "bec"])
def test_forward_contract(chan):
    model = _small("necst_mlp")
    x = torch.rand(4, 1, 28, 28)
    out = model(x, _channel(chan, 0.3), n_samples=3, generator=torch.Generator().manual_seed(0))
    assert out["logits"].shape == (4, 16)
    assert out["y"].shape == (3, 4, 16) and out["log_q"].shape == (3, 4)
    assert out["params"].shape == (3, 4, 1, 28, 28) and out["log_p"].shape == (3, 4)
    allowed = {0.0, 1.0} | ({float(ERASED)} if chan == "bec" else set())
    assert set(out["y"].unique().tolist()) <= allowed
    assert out["log_q"].requires_grad and (out["log_q"] <= 0).all()
