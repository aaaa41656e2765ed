"""Marginal maximum-likelihood item calibration by EM (Bock & Aitkin, 1981).

The E-step is vectorised over the whole response matrix: with a one-hot
design ``Z`` (one column per item category ``k >= 1`` plus, when data are
missing, one "observed" column per item) the log-likelihood of every
response pattern at every quadrature node is a single matrix product
``Z @ W.T`` where ``W`` holds log category probabilities at the nodes, and the
expected counts of the M-step are ``Z.T @ posterior``. Missing responses
(NaN) have all-zero rows in ``Z`` and therefore contribute exactly nothing.
Identical response patterns are collapsed when that pays. The M-step takes
Fisher-scoring steps on the expected counts, vectorised across items of the
same model; the EM map is accelerated with SQUAREM (Varadhan & Roland, 2008).

Identification
--------------
* Single group: theta ~ N(0, 1) (``1pl``: common slope estimated;
  ``rasch``: slopes fixed at 1 and the latent SD estimated, as mirt's Rasch).
* Multigroup (``groups=``): the reference group (lowest label by default) is
  N(0, 1); the other groups' means and SDs are estimated (the standard
  moment update of the latent distribution in the M-step, Mislevy 1984).
* Fixed-parameter calibration (``fixed=``): the given items are held at their
  values; by default (``estimate_latent=None``) the latent mean and SD of a
  single group are then *estimated* because the anchors identify the scale.
* Refused as not identified (``ScoringInputError``): ``estimate_latent=True``
  without anchors, and models with more free slopes/intercepts/latent
  parameters than degrees of freedom of the response patterns (a 2PL needs
  three items). Estimates that end on an internal bound (``|a| < 50``,
  ``|d| < 100``, ``0 < c < 1``; e.g. a perfectly separating item) raise a
  ``ConvergenceWarning`` naming the item.

Standard errors
---------------
``se=True`` (or ``"louis"``) inverts the full observed-data information matrix
computed with Louis' (1982) formula, including cross-item and item/group
blocks. ``se="xpd"`` uses the cross-product of per-person observed scores
(cheaper, asymptotically equivalent). 3PL items are estimated by MAP with a
Beta prior on ``c``; both methods add the prior's curvature
``(alpha - 1) / c^2 + (beta - 1) / (1 - c)^2`` to the information of ``c``
(as mirt does when priors are used), so the covariance is the inverse
negative Hessian of the penalised log-likelihood the M-step maximises.

References
----------
Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of
item parameters: Application of an EM algorithm. *Psychometrika*, 46, 443-459.
Louis, T. A. (1982). Finding the observed information matrix when using the
EM algorithm. *JRSS B*, 44, 226-233.
Mislevy, R. J. (1984). Estimating latent distributions. *Psychometrika*, 49.
Varadhan, R., & Roland, C. (2008). Simple and globally convergent methods for
accelerating the convergence of any EM algorithm. *Scand. J. Statist.*, 35.
Chalmers, R. P. (2012). mirt. *Journal of Statistical Software*, 48(6).
"""
from __future__ import annotations

from ._data import validate_responses
from ._fit import SEMethod, calibrate
from ._result import Calibration

__all__ = ["Calibration", "SEMethod", "calibrate", "validate_responses"]
