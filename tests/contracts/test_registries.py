"""Contract tests over every entry of every registry (plugins included).

A new registration gets these for free: build with its defaults, one training step with every
objective that says it supports it (finite loss, gradients in every parameter group), a clear
refusal from every objective that says it does not, save → load → identical outputs, the
bitstream round trip for latents a bitstream carries and a clear refusal for the rest;
channels against their closed forms; priors as densities; datasets' declared fields.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import channels
import njscc
from njscc import models, objectives
from njscc.data import Batch, dataset_info, load_dataset
from njscc.data.load import DATASETS
from njscc.experiments import EXPERIMENTS, Study
from njscc.priors import PRIORS
from njscc.training import load_model, save_checkpoint

MODEL_NAMES = models.available()
OBJECTIVE_NAMES = objectives.available()


def _build(name: str) -> njscc.LatentCodec:
    torch.manual_seed(0)
    return models.get(name)


def _batch(model: njscc.LatentCodec, n: int = 6) -> Batch:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(n, *model.data_shape, generator=g)
    if getattr(model, "likelihood", None) == "bernoulli":
        x = (x > 0.5).float()
    # fair (u-conditioned) codecs are trained on binary tasks (income on Adult)
    n_classes = getattr(model, "n_classes", 2 if model.conditions else 10)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    extra = {}
    if hasattr(model, "attribute_sizes"):  # joint image–attribute codecs read attributes
        extra["attributes"] = torch.stack(
            [torch.randint(0, k, (n,), generator=g) for k in model.attribute_sizes], 1)
    if hasattr(model, "n_sensitive"):  # FFVAE reads binary attributes by name (its default)
        for name in ("shape", "scale", "rotation")[:model.n_sensitive]:
            extra[name] = torch.randint(0, 2, (n,), generator=g)
    sensitive = None
    if "sensitive" in model.conditions:  # conditional codecs read u from the batch
        sensitive = torch.randint(0, model.n_groups, (n,), generator=g)
    return Batch(x, labels, sensitive, extra=extra)


def _conditions(model: njscc.LatentCodec, batch: Batch) -> dict:
    """The keyword arguments a conditional codec's compress/decompress take."""
    return {c: getattr(batch, c) for c in model.conditions}


def _channel_for(model: njscc.LatentCodec, objective: objectives.Objective):
    if model.latent.sendable and objective.uses_channel:
        return channels.get("bsc", 0.1)
    if model.latent.analog is not None and objective.uses_channel:
        return channels.get_analog("awgn_complex" if model.latent.analog == "complex"
                                   else "awgn_real", 10.0)
    return None


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_model_builds_with_defaults_and_declares_itself(name: str) -> None:
    model = _build(name)
    spec = model.latent
    assert spec.kind in njscc.codec.LATENT_KINDS and spec.size >= 1
    assert model.config["name"] == models.MODELS.canonical(name)
    cfg = model.config
    assert models.get(cfg["name"], **cfg["kwargs"]).config == cfg  # the config rebuilds it
    groups = model.param_groups()
    assert groups and all(groups.values())
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))  # a partition


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("objective_name", OBJECTIVE_NAMES)
def test_supports_is_consistent_with_what_runs(name: str, objective_name: str) -> None:
    model = _build(name)
    objective = objectives.get(objective_name)
    batch = _batch(model)
    g = torch.Generator().manual_seed(0)
    verdict = objective.supports(model)
    if not verdict:
        assert verdict.reason
        with pytest.raises(ValueError, match="cannot train"):
            objective(model, batch, None, generator=g)
        return
    objective.prepare(model)
    loss, stats = objective(model, batch, _channel_for(model, objective), generator=g)
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert {"loss", "bound", "distortion"} <= set(stats)
    assert all(math.isfinite(v) for v in stats.values())
    loss.backward()
    for group, params in model.param_groups().items():
        grads = [p.grad for p in params if p.grad is not None]
        assert grads and any(bool((gr != 0).any()) for gr in grads), f"no gradient in {group}"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_has_a_default_objective_that_trains_it(name: str) -> None:
    model = _build(name)
    obj = objectives.get(objectives.default_for(model))
    assert obj.supports(model)


@pytest.mark.parametrize("objective_name", OBJECTIVE_NAMES)
def test_every_objective_supports_some_registered_model(objective_name: str) -> None:
    obj = objectives.get(objective_name)
    assert any(obj.supports(_build(n)) for n in MODEL_NAMES)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_checkpoint_round_trip_gives_identical_outputs(name: str, tmp_path) -> None:
    model = _build(name).eval()
    batch = _batch(model)
    x = batch.x
    save_checkpoint(tmp_path / "ck", model)
    again = load_model(tmp_path / "ck")
    assert again.config == model.config
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
    kw = {"snr_db": 10.0} if getattr(model, "snr_adaptive", False) else {}  # (ADJSCC)
    kw.update(_conditions(model, batch))
    with torch.no_grad():
        assert torch.equal(model.decompress(model.compress(x, **kw), **kw),
                           again.decompress(again.compress(x, **kw), **kw))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bitstream_round_trip_or_clear_refusal(name: str) -> None:
    model = _build(name).eval()
    x = _batch(model).x
    if not model.latent.sendable:
        with pytest.raises(ValueError, match="bitstream cannot carry"):
            njscc.encode(model, x)
        return
    data = njscc.encode(model, x)
    with torch.no_grad():
        expect = model.decompress(model.compress(x).float()).clamp(0, 1)
    torch.testing.assert_close(njscc.decode(model, data), expect)


def test_a_directly_built_codec_saves_a_loadable_checkpoint(tmp_path) -> None:
    from njscc.models import NecstMLP

    torch.manual_seed(0)
    model = NecstMLP(m=12, enc_hidden=(20,), dec_hidden=[20])  # not through the registry
    assert model.config == {"name": "necst_mlp", "kwargs": {
        "m": 12, "data_shape": [1, 28, 28], "enc_hidden": [20], "dec_hidden": [20],
        "likelihood": "sse", "negative_slope": 0.2, "bias": False, "init_scale": 0.1}}
    save_checkpoint(tmp_path / "ck", model)
    assert load_model(tmp_path / "ck").config == model.config


# --------------------------------------------------------------------------- channels
@pytest.mark.parametrize("name", channels.available())
def test_channel_contract(name: str) -> None:
    ch = channels.get(name, 0.1)
    bits = torch.randint(0, 2, (3, 64)).float()
    a = ch(bits, generator=torch.Generator().manual_seed(5))
    b = ch(bits, generator=torch.Generator().manual_seed(5))
    assert a.shape == bits.shape and torch.equal(a, b)  # seeded ⇒ reproducible
    probs = torch.rand(3, 64, requires_grad=True)
    if ch.soft_output:  # real outputs: no discrete marginal; the decoder sees soft bits
        with pytest.raises(NotImplementedError):
            ch.marginal(probs)
        p1 = ch.soft_bits(a)
        assert p1.shape == a.shape and bool(((p1 >= 0) & (p1 <= 1)).all())
    else:
        pm = ch.marginal(probs)
        assert pm.shape == (3, 64, len(ch.alphabet)) and bool((pm >= 0).all())
        torch.testing.assert_close(pm.sum(-1), torch.ones(3, 64))
        pm[..., 0].sum().backward()
        assert probs.grad is not None
    assert torch.isfinite(ch.llr(a)).all()
    assert 0.0 <= ch.capacity <= 1.0
    assert channels.CHANNELS.canonical(name) == name


# --------------------------------------------------------------------------- priors
@pytest.mark.parametrize("name", PRIORS.available())
def test_prior_contract(name: str) -> None:
    torch.manual_seed(0)
    owner = models.get("vae_mlp", m=3, enc_hidden=[8], dec_hidden=[8], prior=name,
                       n_components=4)
    prior = owner.prior
    assert prior.config["name"] == name and prior.dim == 3
    z = prior.sample(7, torch.Generator().manual_seed(0))
    lp = prior.log_prob(z)
    assert z.shape == (7, 3) and lp.shape == (7,) and torch.isfinite(lp).all()


# --------------------------------------------------------------------------- datasets
@pytest.mark.parametrize("name", DATASETS.available())
def test_dataset_provides_the_fields_it_declares(name: str, request) -> None:
    info = dataset_info(name)
    data_dir = request.getfixturevalue("data_dir") if info.needs_data_dir else None
    split = "test" if "test" in info.splits else info.splits[0]
    try:
        ds = load_dataset(name, split, data_dir)
    except FileNotFoundError as e:  # an optional dataset the data dir does not hold
        pytest.skip(f"{name} is not in the data dir: {e}")
    assert set(ds.fields) == set(info.fields), (ds.fields, info.fields)
    batch = ds.batch()[:5]
    assert batch.fields == set(info.fields)
    assert torch.isfinite(batch.x).all()
    if info.binary:
        assert set(batch.x.unique().tolist()) <= {0.0, 1.0}


# --------------------------------------------------------------------------- experiments
@pytest.mark.parametrize("name", EXPERIMENTS.available())
def test_experiment_contract(name: str) -> None:
    cls = EXPERIMENTS.entry(name).factory
    assert isinstance(cls, type) and issubclass(cls, Study) and dataclasses.is_dataclass(cls)
    study = EXPERIMENTS.get(name)
    assert study.config["name"] == name
    moved = study.for_seed(3)
    assert moved.seed == 3 and moved is not study
    assert callable(cls.plot) and callable(cls.summary)
    import json

    json.dumps(study.config_dict())
