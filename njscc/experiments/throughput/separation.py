"""The separation receiver as a timed unit, and the ``ldpc`` package's C++ BP decoder as a
:class:`baselines.codes.ChannelCode` (:class:`CppBpCode`) on the same 5G code Sionna decodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from baselines import bits as _bits
from baselines import source as _source
from baselines.codes import ChannelCode

__all__ = ["CppBpCode", "SeparationBatch", "SeparationReceiver", "five_g_layout"]


def five_g_layout(encoder: Any) -> dict[str, Any]:
    """Pruned parity-check matrix and bit layout of a Sionna ``LDPC5GEncoder`` code.

    Reproduces ``sionna.phy.fec.ldpc.LDPC5GDecoder`` (flooding schedule, ``prune_pcm=True``):
    the decoder works on the parent code with the trailing degree-1 punctured parity nodes
    (and their checks) removed; columns ``[0, 2z)`` are punctured (LLR 0), filler columns
    ``[k, k_ldpc)`` are known zeros, and the n received bits fill columns
    ``[2z, k) ∪ [k_ldpc, k_ldpc + n − (k − 2z))``; any further columns are punctured.
    """
    import scipy.sparse as sp

    pcm = encoder.pcm
    pcm = pcm.tocsc() if sp.issparse(pcm) else sp.csc_matrix(np.asarray(pcm))
    n_ldpc, k_ldpc, k, n, z = (int(encoder.n_ldpc), int(encoder.k_ldpc), int(encoder.k),
                               int(encoder.n), int(encoder.z))
    dv = np.asarray(pcm.sum(axis=0)).ravel()
    last_pos = n_ldpc
    for idx in range(n_ldpc - 1, 0, -1):
        if dv[idx] == 1:
            last_pos = idx
        else:
            break
    k_filler = k_ldpc - k
    nb_punc = (n_ldpc - k_filler) - n - 2 * z
    n_pruned = int(max(last_pos, n_ldpc - nb_punc))
    nb = n_ldpc - n_pruned
    if nb > 0:
        pcm = pcm[:-nb, :-nb]
    n_sys = k - 2 * z
    rx_cols = np.concatenate([np.arange(2 * z, k), np.arange(k_ldpc, k_ldpc + n - n_sys)])
    if rx_cols.max() >= n_pruned:  # pragma: no cover - would contradict Sionna's layout
        raise ValueError("5G layout: received bits beyond the pruned code")
    return {"pcm": pcm.tocsr(), "n_cols": n_pruned, "rx_cols": rx_cols,
            "info_cols": np.arange(k), "known_zero_cols": np.arange(k, k_ldpc)}


class CppBpCode(ChannelCode):
    """The ``ldpc`` package's C++ ``BpDecoder`` as a channel code (the strongest CPU BP here).

    Wraps a :class:`baselines.codes.LDPC5G` (decodes the *same* 5G code as Sionna: pruned
    parent PCM, punctured columns with LLR 0, filler bits known to be 0) or a
    :class:`baselines.codes.PyLDPC` (its H; the message is the first k codeword bits).
    Encoding is the wrapped code's. Decoding takes hard decisions ``llr > 0`` with per-bit
    flip probabilities ``sigmoid(−|llr|)``, which for a BSC *is* the channel; one word at a
    time (the C++ decoder has no batch call), ``omp_thread_count`` threads, early stop when
    the syndrome is satisfied (Sionna's flooding decoder always runs ``num_iter``).

    Args:
        base: the code to decode (LDPC5G or PyLDPC).
        max_iter: BP iterations at most (20, as Sionna).
        bp_method: ``"minimum_sum"`` (plain min-sum with ``ms_scaling_factor``) or
            ``"product_sum"``.
        ms_scaling_factor: min-sum scaling (1.0 = plain min-sum, like Sionna's ``"minsum"``).
        threads: ``omp_thread_count`` of the decoder.
    """

    name = "ldpc-cpp"

    def __init__(self, base: Any, max_iter: int = 20, bp_method: str = "minimum_sum",
                 ms_scaling_factor: float = 1.0, threads: int = 1) -> None:
        try:
            from ldpc import BpDecoder
        except ImportError as e:  # pragma: no cover
            raise ImportError("CppBpCode needs the ldpc package (pip install ldpc)") from e
        if bp_method not in ("minimum_sum", "product_sum"):
            raise ValueError(f"bp_method: expected 'minimum_sum' or 'product_sum', "
                             f"got {bp_method!r}")
        self.base = base
        self.k, self.n = int(base.k), int(base.n)
        self.max_iter, self.bp_method = int(max_iter), bp_method
        self.ms_scaling_factor, self.threads = float(ms_scaling_factor), int(threads)
        enc = getattr(base, "_encoder", None)
        if enc is not None and hasattr(enc, "z"):  # baselines.codes.LDPC5G
            lay = five_g_layout(enc)
            self.code_name = f"5g({self.k},{self.n})"
        elif hasattr(base, "H"):  # baselines.codes.PyLDPC (systematic: message first)
            import scipy.sparse as sp

            lay = {"pcm": sp.csr_matrix(np.asarray(base.H) % 2), "n_cols": self.n,
                   "rx_cols": np.arange(self.n), "info_cols": np.arange(self.k),
                   "known_zero_cols": np.arange(0)}
            self.code_name = f"pyldpc({self.k},{self.n})"
        else:
            raise TypeError(f"base: expected baselines LDPC5G or PyLDPC, got {type(base).__name__}")
        self._lay = lay
        self._prior = np.full(lay["n_cols"], 0.5)
        self._prior[lay["known_zero_cols"]] = 1e-12
        self._cached_p: np.ndarray | None = None
        self._dec = BpDecoder(lay["pcm"], error_channel=list(self._prior), max_iter=self.max_iter,
                              bp_method=bp_method, ms_scaling_factor=self.ms_scaling_factor,
                              schedule="parallel", omp_thread_count=self.threads,
                              input_vector_type="received_vector")
        self.last_iterations: float = 0.0

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "k": self.k, "n": self.n, "rate": self.rate,
                "code": self.code_name, "max_iter": self.max_iter, "bp_method": self.bp_method,
                "ms_scaling_factor": self.ms_scaling_factor, "threads": self.threads}

    def encode(self, bits: Tensor) -> Tensor:
        return self.base.encode(bits)

    def _set_probs(self, p_rx: np.ndarray) -> None:
        if self._cached_p is not None and np.array_equal(self._cached_p, p_rx):
            return
        probs = self._prior.copy()
        probs[self._lay["rx_cols"]] = p_rx
        self._dec.update_channel_probs(probs)
        self._cached_p = p_rx.copy()

    def decode(self, llr: Tensor) -> Tensor:
        """Channel LLRs ``[..., n]`` → hard info bits ``[..., k]`` uint8 (one word at a time)."""
        if llr.shape[-1] != self.n:
            raise ValueError(f"llr: expected shape [..., {self.n}], got {tuple(llr.shape)}")
        shape = llr.shape[:-1]
        flat = torch.nan_to_num(llr.detach().reshape(-1, self.n).cpu().double(), nan=0.0,
                                posinf=30.0, neginf=-30.0).numpy()
        hard = (flat > 0).astype(np.uint8)
        p = 1.0 / (1.0 + np.exp(np.minimum(np.abs(flat), 30.0)))  # P(bit flipped)
        same = flat.shape[0] > 0 and bool((p == p[0]).all())
        rx = np.zeros(self._lay["n_cols"], dtype=np.uint8)
        cols, info = self._lay["rx_cols"], self._lay["info_cols"]
        out = np.zeros((flat.shape[0], self.k), dtype=np.uint8)
        dec = self._dec
        iters = 0
        if same:
            self._set_probs(p[0])
        for i in range(flat.shape[0]):
            if not same:
                self._set_probs(p[i])
            rx[cols] = hard[i]
            out[i] = dec.decode(rx)[info]
            iters += dec.iter
        self.last_iterations = iters / max(flat.shape[0], 1)
        return torch.from_numpy(out).reshape(*shape, self.k).to(llr.device)


@dataclass
class SeparationBatch:
    """What the separation receiver gets for a batch of images: received codeword symbols."""

    received: Tensor            # [N_codewords, n] channel output
    counts: list[int]           # codewords per image
    lengths: list[int]          # source-stream bits per image
    shape: tuple[int, ...]      # image shape [H, W] (or [H, W, 3])

    @property
    def images(self) -> int:
        return len(self.counts)


class SeparationReceiver:
    """The receiver half of :class:`baselines.scheme.SeparationScheme`, callable on its own.

    ``transmit(images)`` runs the sender (source encode → bits → ``code.encode_stream`` →
    channel) once; ``receive(batch)`` is what is timed: ``channel.llr`` → ``code.decode`` →
    per-image bits → bytes → ``source.decode`` → float pixels ``[B, C, H, W]``. Images the
    source decoder rejects become mid-grey and are counted in ``failures``, as the scheme
    does.
    """

    def __init__(self, source: Any, code: Any, channel: Any) -> None:
        self.source, self.code, self.channel = source, code, channel
        self.failures = 0

    def encode(self, images: np.ndarray) -> tuple[Tensor, list[int], list[int]]:
        """uint8 images ``[B, H, W]`` → (codewords ``[N, n]``, codewords/image, bits/image)."""
        words, counts, lengths = [], [], []
        for img in images:
            bits = _bits.bytes_to_bits(self.source.encode(img))
            cw = self.code.encode_stream(bits)
            words.append(cw)
            counts.append(int(cw.shape[0]))
            lengths.append(int(bits.numel()))
        return torch.cat(words), counts, lengths

    def transmit(self, images: np.ndarray, generator: torch.Generator | None = None
                 ) -> SeparationBatch:
        cw, counts, lengths = self.encode(images)
        return SeparationBatch(self.channel(cw, generator), counts, lengths,
                               tuple(images.shape[1:]))

    def receive(self, batch: SeparationBatch) -> Tensor:
        dec = self.code.decode(self.channel.llr(batch.received))  # [N, k] uint8
        shape = batch.shape
        c = 1 if len(shape) == 2 else shape[2]
        out = torch.empty(batch.images, c, shape[0], shape[1])
        start = 0
        for i, (cnt, length) in enumerate(zip(batch.counts, batch.lengths, strict=True)):
            bits = dec[start:start + cnt].reshape(-1)[:length]
            start += cnt
            try:
                arr = self.source.decode(_bits.bits_to_bytes(bits), shape)
                t = torch.from_numpy(np.array(arr, dtype=np.float32)) / 255.0
                out[i] = t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)
            except _source.DecodeError:
                self.failures += 1
                out[i] = 0.5
        return out


