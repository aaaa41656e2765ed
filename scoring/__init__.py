"""ctcensus scoring core: pure numpy/scipy IRT (models, calibration, ability, item analysis).

Public API is importable from the package root, e.g.
``from scoring import calibrate, estimate_ability, ItemParameters``.
"""

from .errors import ConvergenceWarning, ScoringInputError
from .models import (
    ItemParameters,
    category_probabilities,
    expected_score,
    from_irt_parameters,
    item_information,
    test_information,
    to_irt_parameters,
)
from .calibration import Calibration, calibrate
