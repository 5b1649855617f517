"""Helpers for the book *L2 Regularization Is Secretly Bayesian*.

The public names that chapters, exercises and outside checks rely on are
importable from here.
"""

from l2bayes.notebook import setup_notebook
from l2bayes.priors import (
    gaussian_log_prior,
    l2_penalty,
    lam_for_prior,
    prior_precision_for_weight_decay,
    prior_std_for_lam,
    prior_std_for_weight_decay,
    ridge_lam_for_prior,
    sgld_temperature,
    weight_decay_for_prior,
)
from l2bayes.ridge import bayes_posterior, center_data, fit_evidence, log_evidence, ridge_fit, ridge_path
from l2bayes.testing import assert_below, assert_close

__all__ = [
    "assert_below",
    "assert_close",
    "bayes_posterior",
    "center_data",
    "fit_evidence",
    "log_evidence",
    "ridge_fit",
    "ridge_path",
    "gaussian_log_prior",
    "l2_penalty",
    "lam_for_prior",
    "prior_precision_for_weight_decay",
    "prior_std_for_lam",
    "prior_std_for_weight_decay",
    "ridge_lam_for_prior",
    "setup_notebook",
    "sgld_temperature",
    "weight_decay_for_prior",
]
__version__ = "0.1.0"
