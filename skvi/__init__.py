"""skvi: scikit-learn-compatible Bayesian estimators fitted by variational inference.

Every estimator is fitted by coordinate-ascent variational inference on the evidence
lower bound (ELBO), runs ``n_init`` restarts in parallel with joblib, and drops into
scikit-learn's ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``.
"""

from .decomposition import VariationalLDA
from .linear_model import VariationalLinearRegression, VariationalLogisticRegression
from .mixture import VariationalGMM

__version__ = "0.1.0.dev0"

__all__ = [
    "VariationalGMM",
    "VariationalLDA",
    "VariationalLinearRegression",
    "VariationalLogisticRegression",
    "__version__",
]
