"""The ``deepjscc`` study (:class:`DeepJSCCStudy`): DeepJSCC, SNR-adaptive and binary
DeepJSCC and NECST vs JPEG/WebP + 5G LDPC + BPSK/QPSK/16-QAM over AWGN or block fading."""

from njscc.experiments.deepjscc.study import DeepJSCCStudy, image_metrics, qpsk_crossover

__all__ = ["DeepJSCCStudy", "image_metrics", "qpsk_crossover"]
