"""Data of the DeepJSCC study: MNIST digits, or Kodak (random crops of kodim01–20 for
training, the full frames kodim21–24 for testing, tiled into training-size patches)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["StudyData", "load_study_data", "tile", "untile"]

KODAK_TRAIN = range(1, 21)
KODAK_TEST = range(21, 25)


@dataclass
class StudyData:
    """``train`` ``[N, C, h, w]``; ``test`` full test images (list of ``[C, H, W]``); the
    patch shape the models are built for; a description for the results."""

    train: Tensor
    test: list[Tensor]
    patch: tuple[int, int, int]
    description: str


def tile(image: Tensor, size: int) -> Tensor:
    """``[C, H, W]`` (H, W multiples of ``size``) → patches ``[P, C, size, size]``, row-major."""
    c, h, w = image.shape
    if h % size or w % size:
        raise ValueError(f"image {h}x{w} does not tile into {size}x{size} patches")
    p = image.reshape(c, h // size, size, w // size, size).permute(1, 3, 0, 2, 4)
    return p.reshape(-1, c, size, size)


def untile(patches: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """Inverse of :func:`tile`: ``[..., P, C, s, s]`` → ``[..., C, H, W]``."""
    c, h, w = shape
    s = patches.shape[-1]
    lead = patches.shape[:-4]
    p = patches.reshape(*lead, h // s, w // s, c, s, s)
    n = len(lead)
    p = p.permute(*range(n), n + 2, n, n + 3, n + 1, n + 4)
    return p.reshape(*lead, c, h, w)


def load_study_data(dataset: str, data_dir: str | os.PathLike[str] | None, *, seed: int = 0,
                    n_crops: int = 20000, patch: int = 32, n_test: int | None = None,
                    train_size: int | None = None) -> StudyData:
    """The study's training and test data (module doc)."""
    from njscc.data import load_dataset

    if dataset == "mnist":
        train = load_dataset("mnist", "train", data_dir=data_dir).inputs
        test = load_dataset("mnist", "test", data_dir=data_dir).inputs
        if train_size:
            train = train[:train_size]
        test = test[:n_test or 1000]
        return StudyData(train, [t.clone() for t in test], (1, 28, 28),
                         f"MNIST: {train.shape[0]} training digits, the first {test.shape[0]} "
                         "test digits")
    if dataset == "kodak":
        from njscc.data.images import PatchDataset, read_image_folder
        from njscc.data.load import resolve_data_dir

        folder = resolve_data_dir(data_dir) / "kodak"
        if not folder.is_dir():
            raise FileNotFoundError(f"kodak: expected folder {folder} with kodim01.png .. "
                                    "kodim24.png")
        images = read_image_folder(folder, mode="RGB")
        names = [f"kodim{i:02d}.png" for i in KODAK_TRAIN]
        missing = [n for n in names + [f"kodim{i:02d}.png" for i in KODAK_TEST]
                   if n not in images]
        if missing:
            raise FileNotFoundError(f"kodak: missing {', '.join(missing)} in {folder}")
        g = torch.Generator().manual_seed(10007 + seed)
        crops = PatchDataset({n: images[n] for n in names}, patch, num_crops=n_crops,
                             generator=g, name="kodak").inputs
        tests = [torch.from_numpy(images[f"kodim{i:02d}.png"]).permute(2, 0, 1)
                 .to(torch.float32) / 255.0 for i in KODAK_TEST]
        tests = tests[:n_test] if n_test else tests
        return StudyData(crops, tests, (3, patch, patch),
                         f"Kodak: {n_crops} random {patch}x{patch} crops of kodim01-20 "
                         f"(seeded) for training; full frames kodim21-{20 + len(tests)} for "
                         f"testing, tiled into {patch}x{patch} patches")
    raise ValueError(f"dataset: expected 'mnist' or 'kodak', got {dataset!r}")
