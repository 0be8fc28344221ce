"""The ``official`` recipe is the official TF NECST code (ermongroup/necst), piece by piece:
parameter shapes and count, decoder input, objective (checked against the official formula by
hand and by a line-by-line NumPy port of its ``build_vimco_loss``), the encoder L2 term, fixed
shuffled batches, the first-N hold-out, and the recipe recorded in and restored from a run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from channels import BinarySymmetricChannel as BSC
from channels.base import ERASED
from njscc.cli import main
from njscc.codec import decoder_input
from njscc.data import load_dataset
from njscc.models import get
from njscc.objectives import get as get_objective
from njscc.training import TrainConfig, Trainer
from njscc.training.checkpoint import load_checkpoint, load_model
from njscc.training.recipes import RECIPES

# (name, shape) of every parameter of the official MNIST model, in TF's layout turned into
# torch's [out, in]: encoder fc-0 (kernel + bias), fc-1 (kernel, no bias); decoder fc-2, fc-1,
# fc-0 (kernels, no biases)
OFFICIAL_SHAPES = [(500, 784), (500,), (100, 500), (500, 100), (500, 500), (784, 500)]
OFFICIAL_COUNT = 784 * 500 + 500 + 500 * 100 + 100 * 500 + 500 * 500 + 500 * 784


def test_official_model_has_the_official_parameters() -> None:
    model = get("necst_mlp_tf")
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == OFFICIAL_SHAPES
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_COUNT == 1_134_500
    enc = [n for n, _ in model.named_parameters() if n.startswith("encoder")]
    assert sum(n.endswith("bias") for n in enc) == 1  # the hidden layer's, not the code layer's
    assert model.decoder_input_mode == "binary"


def test_official_initialisation_is_glorot_uniform_with_zero_bias() -> None:
    torch.manual_seed(0)
    model = get("necst_mlp_tf")
    for p in model.parameters():
        if p.dim() == 1:
            assert torch.all(p == 0)
        else:
            fan_out, fan_in = p.shape
            limit = math.sqrt(6 / (fan_in + fan_out))
            assert p.abs().max() <= limit
            # uniform on [-limit, limit]: variance limit²/3 (n ≥ 50 000, 5 % tolerance)
            assert abs(p.var().item() / (limit ** 2 / 3) - 1) < 0.05


def test_switches_off_give_necst_mlp_exactly() -> None:
    torch.manual_seed(3)
    a = get("necst_mlp")
    torch.manual_seed(3)
    b = get("necst_mlp_tf", enc_bias=False, decoder_input="bipolar")
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    y = torch.tensor([[0.0, 1.0, ERASED] * 33 + [1.0]])
    assert torch.equal(a.decode(y), b.decode(y))


def test_decoder_inputs() -> None:
    y = torch.tensor([0.0, 1.0, ERASED])
    assert decoder_input(y).tolist() == [-1.0, 1.0, 0.0]
    assert decoder_input(y, "binary").tolist() == [0.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="bipolar, binary"):
        decoder_input(y, "ternary")
    with pytest.raises(ValueError, match="decoder_input"):
        get("necst_mlp_tf", decoder_input="ternary")


# ----------------------------------------------------------------- the official objective
def _grads(sse: torch.Tensor, log_q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Our VIMCO(bound="upper") surrogate's gradients wrt SSE [K, B] and log q [K, B]."""
    sse = sse.clone().requires_grad_(True)
    log_q = log_q.clone().requires_grad_(True)
    obj = get_objective("vimco", n_samples=sse.shape[0], bound="upper")
    surrogate, value, _ = obj.surrogate(None, None, {"log_p": -sse, "log_q": log_q})
    surrogate.backward()
    return sse.grad, log_q.grad, float(value)


def test_upper_bound_by_hand() -> None:
    """K = 3, one image, SSE (1, 2, 4): the official theta loss is Σ_k w_k SSE_k with w =
    softmax(SSE) held fixed; its phi loss Σ_k (L̂ − L̂₋ₖ) log q_k, L̂₋ₖ putting the mean of the
    other two SSEs in place of SSE_k."""
    sse = torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)
    g_sse, g_logq, value = _grads(sse, torch.zeros_like(sse))
    z = math.exp(1) + math.exp(2) + math.exp(4)
    assert g_sse[:, 0].tolist() == pytest.approx([math.exp(1) / z, math.exp(2) / z,
                                                  math.exp(4) / z], rel=1e-12)
    l_hat = math.log(z / 3)
    minus = [math.log((math.exp(3) + math.exp(2) + math.exp(4)) / 3),    # SSE_0 → (2+4)/2
             math.log((math.exp(1) + math.exp(2.5) + math.exp(4)) / 3),  # SSE_1 → (1+4)/2
             math.log((math.exp(1) + math.exp(2) + math.exp(1.5)) / 3)]  # SSE_2 → (1+2)/2
    assert g_logq[:, 0].tolist() == pytest.approx([l_hat - m for m in minus], rel=1e-12)
    assert -value == pytest.approx(l_hat, rel=1e-12)  # the official "full_loss"


def _official_vimco_numpy(l: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official ``build_vimco_loss`` (after altosaar/vimco_tf), op for op, in NumPy."""
    def lse(a: np.ndarray, axis: int, keepdims: bool = False) -> np.ndarray:
        m = a.max(axis=axis, keepdims=True)
        out = m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))
        return out if keepdims else out.squeeze(axis)

    k = l.shape[0]
    l_logsumexp = lse(l, 0, keepdims=True)
    l_hat = l_logsumexp - np.log(k)
    s = l.sum(0, keepdims=True)
    diag_mask = np.eye(k)[:, :, None]
    diff = (s - l)[None]
    l_i = 1.0 / (k - 1.0) * diff * diag_mask + (1.0 - diag_mask) * np.stack([l] * k)
    l_hat_minus_i = lse(l_i, 1) - np.log(k)
    w = np.exp(l - l_logsumexp)
    return l_hat - l_hat_minus_i, w, l_hat[0]


def test_upper_bound_equals_the_official_vimco_loss() -> None:
    """Random SSEs [5, 7]: our gradients are the official losses' (theta: mean_b Σ_k w·SSE,
    phi: mean_b Σ_k local_l·log q), our value its full loss."""
    rng = np.random.default_rng(0)
    sse = rng.uniform(5, 60, size=(5, 7))
    local_l, w, full = _official_vimco_numpy(sse)
    g_sse, g_logq, value = _grads(torch.from_numpy(sse), torch.from_numpy(-rng.uniform(
        10, 70, size=(5, 7))))
    b = sse.shape[1]
    np.testing.assert_allclose(g_sse.numpy(), w / b, rtol=1e-10)
    np.testing.assert_allclose(g_logq.numpy(), local_l / b, rtol=1e-10, atol=1e-13)
    assert -value == pytest.approx(full.mean(), rel=1e-12)


def test_encoder_l2_is_the_official_regulariser() -> None:
    """reg_param · Σ tf.nn.l2_loss(kernel) over the encoder's kernels (not its bias, not the
    decoder): 1e-4 · Σ ½‖W‖²."""
    torch.manual_seed(0)
    model = get("necst_mlp_tf")
    x = torch.rand(8, 1, 28, 28)
    trainer = Trainer(model, get_objective("vimco", bound="upper"), BSC(0.1), x,
                      TrainConfig(epochs=1, batch_size=8))
    kernels = [model.encoder[1].weight, model.encoder[3].weight]
    assert {id(p) for p in trainer.l2_params} == {id(p) for p in kernels}
    assert trainer.cfg.encoder_l2 == 1e-4
    expected = sum(0.5 * float(w.detach().double().square().sum()) for w in kernels)
    stats = trainer.train_step(x)  # "l2" is the term of this step's loss (before the update)
    assert stats["l2"] == pytest.approx(expected, rel=1e-5)


# ------------------------------------------------------------------- data and shuffling
def test_batches_shuffle_keeps_consecutive_batches() -> None:
    x = torch.rand(1050, 1, 28, 28)
    trainer = Trainer(get("necst_mlp", m=8, enc_hidden=(16,), dec_hidden=(16,)),
                      get_objective("vimco"), BSC(0.1), x,
                      TrainConfig(epochs=1, batch_size=100, shuffle="batches"))
    orders = [trainer.epoch_order(e) for e in (1, 2)]
    for order in orders:
        assert order.shape == (1000,)  # the last partial batch is dropped
        blocks = order.reshape(10, 100)
        starts = blocks[:, 0]
        assert torch.all(starts % 100 == 0)
        assert torch.equal(blocks, starts[:, None] + torch.arange(100))
        assert sorted(starts.tolist()) == list(range(0, 1000, 100))
    assert not torch.equal(orders[0], orders[1])  # a fresh order every epoch
    assert torch.equal(orders[0], trainer.epoch_order(1))  # a pure function of (seed, epoch)
    with pytest.raises(ValueError, match="shuffle"):
        TrainConfig(shuffle="pixels")


def test_first_n_holdout() -> None:
    full = load_dataset("embedded", "train")
    valid = load_dataset("embedded", "valid", valid_size=500, valid_split="first")
    train = load_dataset("embedded", "train", valid_size=500, valid_split="first")
    assert torch.equal(valid.images, full.images[:500])
    assert torch.equal(train.images, full.images[500:])
    assert len(valid) + len(train) == len(full)
    rnd = load_dataset("embedded", "valid", valid_size=500)
    assert not torch.equal(rnd.images, valid.images)  # the random hold-out is different
    with pytest.raises(ValueError, match="valid_split"):
        load_dataset("embedded", "valid", valid_size=5, valid_split="last")
    with pytest.raises(ValueError, match="valid_size must be in"):
        load_dataset("embedded", "valid", valid_size=len(full), valid_split="first")


# ----------------------------------------------------------- the recipe, end to end
def test_official_recipe_is_recorded_and_restored(tmp_path) -> None:
    out = tmp_path / "run"
    args = ["train", "--recipe", "official", "--preset", "embedded", "--valid-size", "1000",
            "--train-size", "600", "--test-size", "100", "--epochs", "2", "--keep-epochs", "1",
            "--batch-size", "100", "--threads", "1", "--quiet", "--out", str(out)]
    assert main(args) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["recipe"]["name"] == "official"
    assert run["recipe"]["model"] == "necst_mlp_tf"
    assert run["recipe"]["objective_args"] == {"bound": "upper"}
    assert run["valid"] == {"size": 1000, "split": "first"}
    assert run["objective"]["kwargs"]["bound"] == "upper"
    ck = load_checkpoint(out)
    assert ck.model_config["name"] == "necst_mlp_tf"
    kw = ck.model_config["kwargs"]
    assert (kw["enc_bias"], kw["dec_bias"], kw["decoder_input"]) == (True, False, "binary")
    assert ck.extra["train_config"]["shuffle"] == "batches"
    model = load_model(out)
    assert type(model).__name__ == "NecstMLPTF" and model.decoder_input_mode == "binary"
    assert (out / "checkpoints" / "epoch_1").is_dir()
    assert type(load_model(out / "checkpoints" / "epoch_1")).__name__ == "NecstMLPTF"
    # the recipe's test protocol (codes drawn from q(y|x)) unless --code says otherwise
    ev = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(out), "--eps", "0.1", "--draws", "1",
                 "--threads", "1", "--quiet", "--out", str(ev)]) == 0
    res = json.loads(next(ev.glob("eval_*.json")).read_text())
    assert res["config"]["code"] == "sample"


def test_explicit_flags_win_over_the_recipe(tmp_path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--recipe", "official", "--preset", "embedded", "--model",
                 "necst_mlp", "--objective-arg", "bound=lower", "--shuffle", "examples",
                 "--valid-size", "0", "--train-size", "200", "--test-size", "50", "--epochs",
                 "1", "--batch-size", "100", "--threads", "1", "--quiet", "--out",
                 str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    ck = load_checkpoint(out)
    assert ck.model_config["name"] == "necst_mlp"
    assert run["objective"]["kwargs"]["bound"] == "lower"
    assert ck.extra["train_config"]["shuffle"] == "examples"
    assert run["valid"] is None


def test_recipes_registry() -> None:
    assert {"default", "official"} <= set(RECIPES.available())
    with pytest.raises(ValueError, match="recipe"):
        RECIPES.get("unofficial")


def test_recipe_build_for_the_python_api() -> None:
    torch.manual_seed(0)
    model, objective, train = RECIPES.get("default").build(m=16)
    assert type(model).__name__ == "NecstMLPTF" and model.m == 16
    assert (objective.bound, objective.loglik_scale) == ("upper", 0.25)
    cfg = TrainConfig(epochs=1, **train)
    assert (cfg.shuffle, cfg.encoder_l2) == ("examples", 2.5e-5)
    model, objective, train = RECIPES.get("official").build()
    assert model.m == 100 and objective.bound == "upper" and train == {"shuffle": "batches"}
