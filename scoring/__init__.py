"""ctcensus scoring core: pure numpy/scipy IRT (models, calibration, ability, item analysis).

Public API is importable from the package root, e.g.
``from scoring import calibrate, estimate_ability, ItemParameters``.
"""

from .ability import AbilityEstimates, conditional_se, empirical_reliability, estimate_ability, marginal_reliability
from .calibration import Calibration, calibrate
from .csvio import (
    ResponseTable,
    read_params_csv,
    read_responses_csv,
    write_groups_csv,
    write_params_csv,
    write_theta_csv,
)
from .ctt import CTTItemStats, DistractorTable, ctt_item_stats, distractor_counts
from .dif import MantelHaenszelDIF, dif_mantel_haenszel
from .errors import ConditioningWarning, ConvergenceWarning, ScoringInputError
from .fit import ItemFit, item_fit, summed_score_distribution
from .linking import LinkingResult, link, transform_parameters, transform_theta
from .models import (
    MODEL_NAMES,
    ItemParameters,
    category_probabilities,
    expected_score,
    from_irt_parameters,
    item_information,
    parse_model_name,
    test_information,
    to_irt_parameters,
)
from .plausible import (
    GroupStatistics,
    PlausibleValues,
    RubinCombination,
    combine_rubin,
    group_statistics,
    plausible_values,
)
from .scale import (
    ProficiencyLevels,
    ReportingScale,
    proficiency_levels,
    scale_scores,
    scale_standard_errors,
    theta_from_scale,
)

__all__ = [
    "MODEL_NAMES",
    "AbilityEstimates",
    "CTTItemStats",
    "Calibration",
    "ConditioningWarning",
    "ConvergenceWarning",
    "DistractorTable",
    "GroupStatistics",
    "ItemFit",
    "ItemParameters",
    "LinkingResult",
    "MantelHaenszelDIF",
    "PlausibleValues",
    "ProficiencyLevels",
    "ReportingScale",
    "ResponseTable",
    "RubinCombination",
    "ScoringInputError",
    "calibrate",
    "category_probabilities",
    "combine_rubin",
    "conditional_se",
    "ctt_item_stats",
    "dif_mantel_haenszel",
    "distractor_counts",
    "empirical_reliability",
    "estimate_ability",
    "expected_score",
    "from_irt_parameters",
    "group_statistics",
    "item_fit",
    "item_information",
    "link",
    "marginal_reliability",
    "parse_model_name",
    "plausible_values",
    "proficiency_levels",
    "read_params_csv",
    "read_responses_csv",
    "scale_scores",
    "scale_standard_errors",
    "summed_score_distribution",
    "test_information",
    "theta_from_scale",
    "to_irt_parameters",
    "transform_parameters",
    "transform_theta",
    "write_groups_csv",
    "write_params_csv",
    "write_theta_csv",
]
