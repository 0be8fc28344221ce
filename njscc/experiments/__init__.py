"""One module per study, one registry: :data:`EXPERIMENTS`.

===============  ======================================================  ====================
name             study                                                   CLI
===============  ======================================================  ====================
``demo``         :class:`~njscc.experiments.demo.Demo`                   ``njscc demo``
``rd_sweep``     :class:`~njscc.experiments.rd_sweep.RateDistortionSweep`  ``njscc rd-sweep``
``vib``          :class:`~njscc.experiments.vib.VIBStudy`                ``njscc vib``
``downstream``   :class:`~njscc.experiments.downstream.DownstreamStudy`  ``njscc downstream``
``compare``      :class:`~njscc.experiments.compare.CompareStudy`        ``njscc compare``
``throughput``   :class:`~njscc.experiments.throughput.BenchConfig`      ``njscc bench``
``deepjscc``     :class:`~njscc.experiments.deepjscc.DeepJSCCStudy`      ``njscc deepjscc``
``mfcvae``       :class:`~njscc.experiments.mfcvae.MFCVAEStudy`          ``njscc experiment``
``rrvq``         :class:`~njscc.experiments.rrvq.RRVQStudy`              ``njscc experiment``
``unet_hvae``    :class:`~njscc.experiments.unet_hvae.UNetHVAEStudy`     ``njscc experiment``
``bijective_ica`` :class:`~njscc.experiments.bijective_ica.BijectiveICAStudy`  ``njscc experiment``
===============  ======================================================  ====================

Every registered study — plugins' too (entry-point group ``njscc.experiments``) — also runs as
``njscc experiment NAME --set key=value ... [--seeds 0,1,2]``. The contract, multi-seed runs
and the aggregation over seeds: :mod:`njscc.experiments.base`.
"""

# the studies, imported for their registration
from njscc.experiments import (  # noqa: E402,F401,I001
    bijective_ica, bsvi, compare, deepjscc, demo, downstream, fairness, ffvae, ica, mfcvae,
    rd_sweep, robustness, rrvq, telbo, throughput, unet_hvae, vib)
from njscc.experiments.base import (
    EXPERIMENTS,
    Study,
    aggregate_seeds,
    execute,
    fmt_pm,
    load_results,
)

__all__ = ["EXPERIMENTS", "Study", "aggregate_seeds", "execute", "fmt_pm", "load_results"]
