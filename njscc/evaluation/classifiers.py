"""The eight scikit-learn classifiers of the NECST paper's downstream table, by name.

Choi et al. (2019, Table 3) feed learned codes to "KNN, DecisionTree, RandomForest, MLP,
AdaBoost, NaiveBayes, QDA, SVM" without hyper-parameters. Their accuracies (a depth-limited
tree at ≈ 0.65, a forest at ≈ 0.7) match the settings of scikit-learn's *classifier
comparison* example of the time, so that is the default setting here (``"comparison"``); the
example's SVM (an RBF kernel with γ = 2) gives chance accuracy on 100-bit codes, so the SVM has
its own variants (``svm`` choices below). ``"defaults"`` uses every estimator's constructor
defaults instead.

    >>> clf = make_classifier("rf", setting="comparison", seed=0)
    >>> acc = fit_score(clf, x_train, y_train, x_test, y_test)

Features are ``[N, d]`` float arrays (NumPy or torch), labels ``[N]`` ints. AdaBoost in
scikit-learn ≥ 1.6 only has the discrete SAMME algorithm; the paper's 2018 version defaulted to
SAMME.R (a protocol difference recorded in the results). QDA likewise: scikit-learn ≥ 1.x
refuses a class whose covariance is singular (constant code bits within a class — common for
noiselessly trained NECST codes), where the 2018 version warned "variables are collinear" and
went on; :func:`make_classifier` then refits with the smallest regulariser
(:data:`QDA_FALLBACK_REG`) and marks it (``fallback_reg_``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

__all__ = ["CLASSIFIERS", "QDA_FALLBACK_REG", "SETTINGS", "SVM_VARIANTS", "fit_score",
           "make_classifier"]

#: the paper's eight classifiers, in its column order, with their display names
CLASSIFIERS: dict[str, str] = {
    "knn": "KNN", "dt": "DecisionTree", "rf": "RandomForest", "mlp": "MLP",
    "adaboost": "AdaBoost", "nb": "NaiveBayes", "qda": "QDA", "svm": "SVM",
}
#: ``comparison``: scikit-learn's classifier-comparison example; ``defaults``: constructors'
SETTINGS = ("comparison", "defaults")
#: SVM choices: the example's linear (C = 0.025) and RBF (γ = 2, C = 1) ones, and the RBF
#: kernel with γ = 1/d (scikit-learn's default before 0.22, ``auto``) or 1/(d·Var x) (``scale``)
SVM_VARIANTS = ("linear", "rbf_gamma2", "rbf_auto", "rbf_scale")
#: QDA's covariance regulariser when a class covariance is singular (see the module docstring)
QDA_FALLBACK_REG = 1e-6


def _qda() -> Any:
    from numpy.linalg import LinAlgError
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis

    class QDA(QuadraticDiscriminantAnalysis):
        """QDA that refits with ``reg_param = QDA_FALLBACK_REG`` (rank tolerance 1 % of it)
        on a singular class covariance and records it in ``fallback_reg_`` (else ``None``)."""

        def fit(self, X: Any, y: Any) -> Any:
            self.fallback_reg_ = None
            try:
                return super().fit(X, y)
            except LinAlgError:
                self.set_params(reg_param=QDA_FALLBACK_REG, tol=QDA_FALLBACK_REG / 100)
                self.fallback_reg_ = QDA_FALLBACK_REG
                return super().fit(X, y)

    return QDA()


def make_classifier(name: str, setting: str = "comparison", seed: int = 0,
                    svm: str = "rbf_auto") -> Any:
    """A fresh scikit-learn estimator for ``name`` (a key of :data:`CLASSIFIERS`).

    Args:
        setting: one of :data:`SETTINGS`.
        seed: ``random_state`` of the randomised ones (tree, forest, MLP, AdaBoost).
        svm: the SVM for ``name="svm"`` (one of :data:`SVM_VARIANTS`; ``setting`` is ignored).
    """
    from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    if name not in CLASSIFIERS:
        raise ValueError(f"classifier: expected one of {', '.join(CLASSIFIERS)}, got {name!r}")
    if setting not in SETTINGS:
        raise ValueError(f"setting: expected one of {', '.join(SETTINGS)}, got {setting!r}")
    if svm not in SVM_VARIANTS:
        raise ValueError(f"svm: expected one of {', '.join(SVM_VARIANTS)}, got {svm!r}")
    seed = int(seed)
    example = setting == "comparison"
    if name == "knn":
        return KNeighborsClassifier(3 if example else 5)
    if name == "dt":
        return DecisionTreeClassifier(max_depth=5 if example else None, random_state=seed)
    if name == "rf":
        if example:
            return RandomForestClassifier(max_depth=5, n_estimators=10, max_features=1,
                                          random_state=seed)
        return RandomForestClassifier(random_state=seed)
    if name == "mlp":
        return MLPClassifier(alpha=1.0 if example else 1e-4, random_state=seed)
    if name == "adaboost":
        return AdaBoostClassifier(random_state=seed)
    if name == "nb":
        return GaussianNB()
    if name == "qda":
        return _qda()
    if svm == "linear":
        return SVC(kernel="linear", C=0.025)
    return SVC(gamma={"rbf_gamma2": 2.0, "rbf_auto": "auto", "rbf_scale": "scale"}[svm], C=1.0)


def _array(a: Any, what: str, ndim: int) -> np.ndarray:
    arr = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    if arr.ndim != ndim or arr.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty {ndim}-d array, got shape {arr.shape}")
    return arr


def fit_score(clf: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any) -> float:
    """Fit ``clf`` on ``(x_train [N, d], y_train [N])`` and return its accuracy on the test set.

    Convergence and collinearity warnings (MLP iterations, QDA's singular covariances — part
    of what the table measures) are silenced; real errors propagate.
    """
    xtr, xte = _array(x_train, "x_train", 2), _array(x_test, "x_test", 2)
    ytr, yte = _array(y_train, "y_train", 1), _array(y_test, "y_test", 1)
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise ValueError(f"features and labels differ in length: {xtr.shape[0]} vs "
                         f"{ytr.shape[0]}, {xte.shape[0]} vs {yte.shape[0]}")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train and test features differ in width: {xtr.shape[1]} vs "
                         f"{xte.shape[1]}")
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*[Vv]ariables are collinear.*")
        warnings.simplefilter("ignore", RuntimeWarning)
        clf.fit(xtr, ytr)
        return float((clf.predict(xte) == yte).mean())
