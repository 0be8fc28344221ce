"""``njscc train``: train any registered model with any objective that supports it.

Examples::

    njscc train --preset mnist --data-dir DATA --epochs 10 --out runs/mnist_bsc0.1
    njscc train --dataset idx:DATA/fashion_mnist --epochs 10 --out runs/fashion
    njscc train --model vae --beta 0.5 --preset binarized_mnist --data-dir DATA --m 32
    njscc train --preset mnist --data-dir DATA --seeds 0,1,2 --out runs/mnist3   # σ over seeds
    torchrun --nproc_per_node 2 -m njscc.cli train --preset mnist --data-dir DATA --bits 100 ...

What the model and objective can do decides what runs: the objective defaults to the one for
the model's latent (bits: ``vimco``; real: ``beta_vae``, or ``vib`` for classifiers), the
channel applies only to latents that cross one, and a flag the model or objective cannot
honour (``--m`` for a model without ``m``, ``--beta`` for VIMCO, ``--channel`` for a VAE, …)
is an error that names both. A *preset* is only a recipe of defaults (dataset + likelihood).
"""

from __future__ import annotations

import argparse
from typing import Any

from njscc.cli import options as opt

__all__ = ["HELP", "PRESETS", "add_arguments", "build_and_train", "run"]

HELP = ("train a model (any registered codec + objective): progress bar, JSON/CSV logs, "
        "checkpoints, --resume, --seeds, torchrun")

#: preset → a recipe of defaults (the paper's MNIST setting uses the SSE distortion)
PRESETS: dict[str, dict[str, Any]] = {
    "mnist": {"dataset": "mnist", "likelihood": "sse"},
    "binarized_mnist": {"dataset": "binarized_mnist", "likelihood": "bernoulli"},
    "embedded": {"dataset": "embedded", "likelihood": "sse"},
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    opt.add_data(g)
    g.add_argument("--preset", default=None, metavar="NAME",
                   help=f"recipe of data defaults (dataset + likelihood): {', '.join(PRESETS)}")
    g.add_argument("--valid-size", type=opt.nonneg_int, default=None, action=opt.Tracked,
                   help="hold out N training examples for validation (train on the rest)")
    g.add_argument("--valid-split", default=None, choices=("random", "first"),
                   action=opt.Tracked,
                   help="which N: a seeded random subset, or the first N (the official code's)")
    g.add_argument("--train-size", type=opt.positive_int, default=None,
                   help="use only the first N training examples (quick runs)")
    g.add_argument("--test-size", type=opt.positive_int, default=None,
                   help="use only the first N test examples for the per-epoch test distortion")
    m = p.add_argument_group("model and objective")
    m.add_argument("--recipe", default="default", metavar="NAME",
                   help="training recipe: default, or official (the official TF NECST code as "
                   "it is); explicit flags win over it")
    m.add_argument("--model", default="necst_mlp", action=opt.Tracked,
                   help="registered model (njscc list models)")
    m.add_argument("--m", "--bits", type=opt.CODE_BITS, default=None, dest="m",
                   help="latent size: code bits (NECST) or dimensions (VAE); default: the "
                   "model's. Under torchrun spell it --bits (torchrun rejects --m)")
    m.add_argument("--model-arg", action="append", default=[], metavar="KEY=JSON",
                   help="model keyword argument, e.g. dec_hidden=[256,256] (repeatable)")
    m.add_argument("--objective", default=None,
                   help="registered objective (default: the one for the model's latent)")
    m.add_argument("--objective-arg", action="append", default=[], metavar="KEY=JSON",
                   help='objective keyword argument, e.g. bound="upper" (repeatable)')
    m.add_argument("--K", type=opt.SAMPLES, default=None, dest="K",
                   help="samples per input (the objective's n_samples; VIMCO default 5)")
    m.add_argument("--beta", type=opt.nonneg_float, default=None,
                   help="rate weight β of the objective (beta_vae: D + β·R; vib: CE + β·R)")
    c = p.add_argument_group("channel (latents that cross one)")
    opt.add_channel(c, default="bsc", train_eps=0.1, train_help="training channel parameter")
    c.add_argument("--test-eps", type=opt.finite_float, default=None,
                   help="channel parameter of the per-epoch test distortion (default: "
                   "--train-eps)")
    p.set_defaults(_channel_param="train_eps")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=opt.EPOCHS, default=10,
                   help="total epochs (also when resuming)")
    t.add_argument("--batch-size", type=opt.BATCH, default=100, help="global batch size")
    t.add_argument("--lr", type=opt.positive_float, default=1e-3,
                   help="Adam learning rate (all optimisers)")
    t.add_argument("--l2", type=opt.nonneg_float, default=None,
                   help="L2 weight on the encoder's weight matrices (default 1e-4 for models "
                   "with an encoder group)")
    t.add_argument("--test-every", type=opt.nonneg_int, default=1,
                   help="evaluate test distortion every N epochs (0: never)")
    t.add_argument("--patience", type=opt.positive_int, default=None,
                   help="early stopping: stop after N epochs without a better validation score "
                   "(needs --valid-size); checkpoints/best keeps the best epoch, which eval, "
                   "compare and encode load from the run directory")
    t.add_argument("--max-minutes", type=opt.positive_float, default=None,
                   help="stop (resumable) once this much training time has passed")
    t.add_argument("--max-steps", type=opt.positive_int, default=None,
                   help="stop (resumable) after this many optimisation steps in all")
    t.add_argument("--shuffle", default=None, choices=("examples", "batches"), action=opt.Tracked,
                   help="examples: a fresh permutation every epoch; batches: fixed consecutive "
                   "batches in a fresh order (the official code's)")
    t.add_argument("--keep-epochs", type=opt._list(opt.EPOCHS, "epochs"), default=[],
                   help="also keep the checkpoints of these epochs (checkpoints/epoch_<e>)")
    t.add_argument("--resume", action="store_true",
                   help="continue from the last good checkpoint in --out")
    opt.add_run(p, out=None, out_help="run directory (default runs/<dataset>_<model>_<objective>)",
                seed_help="seed for initialisation, shuffling and sampling")


# --------------------------------------------------------------------------- the recipe
def _recipe(args: argparse.Namespace) -> dict[str, Any]:
    """Dataset name and default likelihood from ``--dataset`` / ``--preset``."""
    from njscc.data import dataset_info

    if args.preset is not None and args.preset not in PRESETS:
        raise ValueError(f"--preset: unknown preset {args.preset!r}; available: "
                         f"{', '.join(PRESETS)}")
    preset = PRESETS.get(args.preset or "", {})
    dataset = args.dataset or preset.get("dataset")
    if dataset is None:
        raise ValueError("give --dataset NAME (a registered dataset, idx:DIR or images:DIR) or "
                         f"--preset ({', '.join(PRESETS)})")
    info = dataset_info(dataset)
    likelihood = preset.get("likelihood") if preset.get("dataset") == dataset else None
    return {"dataset": dataset, "info": info,
            "likelihood": likelihood or ("bernoulli" if info.binary else "sse")}


def _model_kwargs(args: argparse.Namespace, entry: Any, recipe: dict[str, Any],
                  data_shape: list[int], defaults: dict[str, Any]) -> dict[str, Any]:
    kwargs = {**defaults, **opt.parse_kv(args.model_arg, "--model-arg")}
    if args.m is not None:
        if not entry.accepts("m"):
            raise ValueError(f"--m: model {entry.name!r} has no argument 'm'")
        if "m" in kwargs:
            raise ValueError("--m and --model-arg m=...: give it once")
        kwargs["m"] = args.m
    # recipe defaults: applied only where the model has the argument and the user set none
    if entry.accepts("likelihood") and "likelihood" not in kwargs:
        import inspect

        allowed = getattr(entry.factory, "likelihoods", None)
        default = entry.signature().parameters.get("likelihood")
        want = recipe["likelihood"]
        if allowed is None or want in allowed:
            kwargs["likelihood"] = want
        elif default is not None and default.default is not inspect.Parameter.empty:
            kwargs["likelihood"] = default.default
    if entry.accepts("data_shape") and "data_shape" not in kwargs:
        kwargs["data_shape"] = data_shape
    return kwargs


def _objective_kwargs(args: argparse.Namespace, entry: Any, defaults: dict[str, Any]
                      ) -> dict[str, Any]:
    kwargs = {**defaults, **opt.parse_kv(args.objective_arg, "--objective-arg")}
    for flag, key, value in (("--K", "n_samples", args.K), ("--beta", "beta", args.beta)):
        if value is None:
            continue
        if not entry.accepts(key):
            raise ValueError(f"{flag}: objective {entry.name!r} has no argument {key!r}")
        if key in kwargs:
            raise ValueError(f"{flag} and --objective-arg {key}=...: give it once")
        kwargs[key] = value
    return kwargs


def _explain_unsupported(name: str, model: Any) -> None:
    """Raise the objective's "cannot train this model" error if its defaults say so."""
    from njscc import objectives

    try:
        default = objectives.get(name)
    except (TypeError, ValueError):
        return
    default.check(model)


def build_and_train(args: argparse.Namespace, log: Any = print) -> dict[str, Any]:
    """Build data, model, objective and channels from ``args`` and run the trainer (one seed).

    Returns ``{"out", "history", "trainer", "interrupted"}``. ``log`` prints one-line messages.
    """
    import sys
    from pathlib import Path

    import torch

    import channels
    from njscc import models, objectives
    from njscc.cli.commands._io import check_writable
    from njscc.data import load_dataset
    from njscc.training import TrainConfig, Trainer, distributed_context, format_row
    from njscc.training.recipes import RECIPES

    recipe = _recipe(args)
    dataset, info = recipe["dataset"], recipe["info"]
    bundle = RECIPES.get(args.recipe)  # explicit flags win over the recipe below
    model_name = args.model if opt.explicit(args, "model") or bundle.model is None else \
        bundle.model
    model_entry = models.MODELS.entry(model_name)
    # a recipe's hold-out applies to datasets without a validation split of their own
    valid_size = args.valid_size if args.valid_size is not None else \
        (0 if "valid" in info.splits else bundle.valid_size)
    valid_split = args.valid_split or bundle.valid_split
    shuffle = args.shuffle or bundle.train.get("shuffle", "examples")
    out = Path(args.out or f"runs/{dataset.replace(':', '_').replace('/', '_')}_"
               f"{model_entry.name}_{args.objective or bundle.objective or 'default'}")
    check_writable(out, folder=True)
    if (out / "checkpoints").exists() and not args.resume:
        raise FileExistsError(f"--out {out}: already has checkpoints; pass --resume to continue "
                              "or choose another --out")

    split_args = {"valid_size": valid_size, "valid_split": valid_split} if valid_size else {}
    train_ds = load_dataset(dataset, "train", data_dir=args.data_dir, **split_args)
    test_ds = load_dataset(dataset, "test", data_dir=args.data_dir) if "test" in info.splits \
        else None
    train_data = train_ds.batch()[:args.train_size]
    if args.patience is not None and not valid_size:
        raise ValueError("--patience: early stopping needs a validation split; pass "
                         "--valid-size N (N training examples held out)")
    # validation is scored when asked for: --patience, or an explicit --valid-size
    valid_data = load_dataset(dataset, "valid", data_dir=args.data_dir, **split_args).batch() \
        if valid_size and (args.patience is not None or opt.explicit(args, "valid_size")) \
        else None
    test_data = test_ds.batch()[:args.test_size] if test_ds is not None else None
    model_kwargs = _model_kwargs(args, model_entry, recipe, list(train_data.x.shape[1:]),
                                 dict(bundle.model_args) if model_entry.name == bundle.model
                                 else {})

    with distributed_context(args.device) as (dist_info, device):
        torch.manual_seed(args.seed)  # model initialisation
        model = models.get(model_entry.name, **model_kwargs)
        # the recipe's objective goes with the recipe's model (another model: its own default)
        wanted = args.objective or (bundle.objective if model_entry.name == bundle.model
                                    else None)
        obj_name = objectives.OBJECTIVES.canonical(wanted) if wanted else \
            objectives.default_for(model)
        obj_entry = objectives.OBJECTIVES.entry(obj_name)
        obj_kwargs = _objective_kwargs(args, obj_entry, dict(bundle.objective_args)
                                       if obj_name == bundle.objective else {})
        try:
            objective = objectives.get(obj_name, **obj_kwargs)
        except (TypeError, ValueError):
            _explain_unsupported(obj_name, model)  # the deeper reason first, if there is one
            raise
        objective.check(model, info.fields)  # codec support and data fields, one line each

        channel_flags = [f for f, d in (("--channel", "channel"), ("--train-eps", "train_eps"),
                                        ("--test-eps", "test_eps")) if opt.explicit(args, d)]
        uses_channel = model.latent.crosses_channel and objective.uses_channel
        if uses_channel:
            test_eps = args.train_eps if args.test_eps is None else args.test_eps
            if model.latent.analog is not None:  # analog symbols: --train-eps is the SNR in dB
                analog = channels.available_analog()
                if not opt.explicit(args, "channel") or args.channel not in analog:
                    raise ValueError(f"--channel: model {model_entry.name!r} sends "
                                     f"{model.latent}; name an analog channel ("
                                     f"{', '.join(analog)}) and its SNR in dB with "
                                     f"--train-eps, e.g. --channel awgn_complex --train-eps 10")
                train_channel = channels.get_analog(args.channel, args.train_eps)
                test_channel = channels.get_analog(args.channel, test_eps)
            else:
                train_channel = channels.get(args.channel, args.train_eps)
                test_channel = channels.get(args.channel, test_eps)
            channel_info: dict[str, Any] | None = {"name": args.channel,
                                                   "train_param": args.train_eps,
                                                   "test_param": test_eps}
        else:
            if channel_flags:
                raise ValueError(f"{', '.join(channel_flags)}: model {model_entry.name!r} "
                                 f"({model.latent}) with objective {obj_name!r} is not trained "
                                 "over a channel; drop the channel options")
            train_channel = test_channel = channel_info = None
        has_encoder = "encoder" in model.param_groups()
        if args.l2 is not None and args.l2 > 0 and not has_encoder:
            raise ValueError(f"--l2: model {model_entry.name!r} has no 'encoder' parameter "
                             "group to regularise")
        l2 = args.l2 if args.l2 is not None else \
            (bundle.train.get("encoder_l2", 1e-4) if has_encoder else 0.0)
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          encoder_l2=l2, seed=args.seed, test_every=args.test_every,
                          max_seconds=None if args.max_minutes is None else 60 * args.max_minutes,
                          max_steps=args.max_steps, shuffle=shuffle,
                          keep_epochs=tuple(args.keep_epochs), patience=args.patience)
        run_info = {"preset": args.preset, "dataset": dataset,
                    "recipe": {"name": RECIPES.canonical(args.recipe), **bundle.as_dict()},
                    "valid": {"size": valid_size, "split": valid_split} if valid_size else None,
                    "dataset_config": getattr(train_ds, "config", None),
                    "channel": channel_info,
                    "objective": {"name": obj_name, "kwargs": dict(objective.config["kwargs"])},
                    "n_train": len(train_data),
                    "n_test": len(test_data) if test_data is not None else 0}
        quiet = args.quiet
        trainer = Trainer(
            model, objective, train_channel, train_data, cfg,
            test_data=test_data if model.reconstructs else None, test_channel=test_channel,
            valid_data=valid_data, out_dir=out, device=device, dist_info=dist_info,
            run_info=run_info, quiet=quiet,
            on_epoch=None if quiet else (lambda row: print(format_row(row, cfg.epochs),
                                                           file=sys.stderr, flush=True)))
        main = dist_info.is_main
        if args.resume and (out / "checkpoints").exists():
            used = trainer.resume()
            if main:
                log(f"resuming from {used} (epoch {trainer.epoch}, "
                    f"step {trainer.step_in_epoch}/{trainer.steps_per_epoch})")
        elif args.resume and main:
            log(f"--resume: no checkpoint in {out} yet, starting from scratch")
        if main and not quiet:
            where = (f"{args.channel} {args.train_eps:g}" if uses_channel else "no channel")
            log(f"training {model_entry.name} ({model.latent}) on {dataset} "
                f"({len(trainer.train_data)} examples) with {obj_name}, {where}, "
                f"{cfg.epochs} epochs, {trainer.steps_per_epoch} steps/epoch, device {device}, "
                f"world size {dist_info.world}")
        history = trainer.fit()
        sig = trainer.stopped_by_signal
        if main:
            if trainer.stop_reason is not None:
                why = {"signal": "interrupted", "time": "time budget reached",
                       "steps": "step budget reached",
                       "early": "early stop"}[trainer.stop_reason]
                if trainer.stop_reason == "early":
                    log(f"early stop after epoch {trainer.epoch}: no better {trainer.monitor} "
                        f"for {cfg.patience} epochs; best epoch {trainer.best_epoch} "
                        f"({out / 'checkpoints' / 'best'})")
                else:
                    log(f"{why}: checkpoint saved at epoch {trainer.epoch} step "
                        f"{trainer.step_in_epoch}; continue with --resume --out {out}")
            else:
                best = (f", best epoch {trainer.best_epoch} (checkpoints/best)"
                        if trainer.best_epoch is not None else "")
                log(f"done: {trainer.epoch} epochs; checkpoint {out / 'checkpoints' / 'last'}"
                    f"{best}, logs {out / 'log.csv'}")
    return {"out": out, "history": history, "trainer": trainer, "interrupted": sig}


def _seed_summary(out: Any, seeds: list[int], runs: list[dict[str, Any]]) -> Any:
    """``<out>/seeds.json``: the last epoch's statistics of every seed, mean and σ over seeds."""
    from njscc.experiments.base import aggregate_seeds
    from njscc.io.results import make_result, write_result

    per_seed = []
    for res in runs:
        hist = res["history"]
        last = {k: v for k, v in (hist[-1] if hist else {}).items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)}
        info = res["trainer"].run_info
        ch = info.get("channel") or {}
        per_seed.append(make_result(
            "train", {"last_epoch": last, "epochs": len(hist)}, dataset=info.get("dataset"),
            channel={"name": ch.get("name"), "param": ch.get("train_param")},
            m=res["trainer"].model.latent.size, config={"run": str(res["out"])}))
    return write_result(out / "seeds.json", aggregate_seeds(per_seed, seeds))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from njscc.training import seed_dir

    if not args.seeds:
        res = build_and_train(args)
        sig = res["interrupted"]
        return 128 + int(sig) if sig is not None else 0
    if args.out is None:
        raise ValueError("--seeds needs --out DIR (each seed trains in DIR/seed_<s>/)")
    root, runs = Path(args.out), []
    for s in args.seeds:
        sub = argparse.Namespace(**{**vars(args), "seed": s, "out": str(seed_dir(root, s))})
        print(f"seed {s}: {sub.out}", flush=True)
        res = build_and_train(sub)
        if res["interrupted"] is not None:
            return 128 + int(res["interrupted"])
        runs.append(res)
    summary = _seed_summary(root, list(args.seeds), runs)
    print(f"{len(runs)} seeds; summary (mean and σ over seeds): {summary}")
    return 0
