"""DeepJSCC codecs (analog, SNR-adaptive, binary); see :mod:`njscc.models.deepjscc.model`."""

from njscc.models.deepjscc.model import BinaryDeepJSCC, DeepJSCC, SNRAdaptiveDeepJSCC, c_for_ratio

__all__ = ["BinaryDeepJSCC", "DeepJSCC", "SNRAdaptiveDeepJSCC", "c_for_ratio"]
