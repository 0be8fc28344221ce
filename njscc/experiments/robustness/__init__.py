"""Robustness studies (issue: robustness of codecs), one module each:
:mod:`.downstream_table` (the NECST paper's scikit-learn table), :mod:`.attacks` (Kos et al.
attacks on codecs), :mod:`.rrobustness` (r-robustness margins and Lipschitz-VAE
certificates), :mod:`.gni` (Gaussian noise injections vs their explicit regulariser),
:mod:`.smoothness` (encoder variance vs decoder smoothness), :mod:`.mismatch` (channel
mismatch heat-maps), :mod:`.atn` (adversarial transformation networks)."""

from njscc.experiments.robustness.atn import ATNStudy
from njscc.experiments.robustness.attacks import AttackStudy
from njscc.experiments.robustness.downstream_table import DownstreamTableStudy
from njscc.experiments.robustness.gni import GNIStudy
from njscc.experiments.robustness.mismatch import MismatchStudy
from njscc.experiments.robustness.rrobustness import RRobustnessStudy
from njscc.experiments.robustness.smoothness import SmoothnessStudy

__all__ = ["ATNStudy", "AttackStudy", "DownstreamTableStudy", "GNIStudy", "MismatchStudy",
           "RRobustnessStudy", "SmoothnessStudy"]
