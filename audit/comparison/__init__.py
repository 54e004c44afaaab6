"""Statistics of two runs: is run B better or worse than run A, and by which test?

Plain functions, one idea per module, each returning a typed result:

====================  =====================================================================
module                what
====================  =====================================================================
``difference``        :class:`Difference`: a change and the test of it (p-value or interval)
``mcnemar``           McNemar's exact test of a 0/1 outcome on the same samples
``paired_bootstrap``  a seeded bootstrap of per-sample differences of a score
``unpaired``          Newcombe's interval of two proportions; combined intervals of two means
``figures``           the key figures compared, and where each comes from
``overall``           one overall answer by a written rule
``compare``           :func:`compare_summaries`: every figure of two runs, tested and assessed
====================  =====================================================================

:func:`compare_summaries` works from two :class:`~audit.summary.Summary` objects (any schema
version) and, when both runs audited the same samples, their ``records.csv`` for the paired
tests. The report's baseline table, ``cam-audit compare`` (and its ``comparison.json``) and the
run history all call it, so they give the same answer; drift between scheduled runs is meant to
keep its :class:`FigureComparison` rows.
"""

from audit.comparison.compare import (
    Assessment,
    Comparison,
    FigureComparison,
    Pairing,
    compare_summaries,
    pairing,
)
from audit.comparison.difference import Difference, excludes_zero
from audit.comparison.figures import (
    METHOD_FIGURES,
    RUN_FIGURES,
    FigureSpec,
    FigureValue,
    figure_title,
    key_figures,
    sample_outcomes,
)
from audit.comparison.mcnemar import mcnemar_exact, paired_proportions
from audit.comparison.overall import ANSWERS, METHODS_RULE, OVERALL_RULE, Overall, overall_answer
from audit.comparison.paired_bootstrap import paired_bootstrap
from audit.comparison.unpaired import combined_intervals, newcombe_interval, two_proportions

__all__ = [
    "ANSWERS",
    "METHODS_RULE",
    "METHOD_FIGURES",
    "OVERALL_RULE",
    "RUN_FIGURES",
    "Assessment",
    "Comparison",
    "Difference",
    "FigureComparison",
    "FigureSpec",
    "FigureValue",
    "Overall",
    "Pairing",
    "combined_intervals",
    "compare_summaries",
    "excludes_zero",
    "figure_title",
    "key_figures",
    "mcnemar_exact",
    "newcombe_interval",
    "overall_answer",
    "paired_bootstrap",
    "paired_proportions",
    "pairing",
    "sample_outcomes",
    "two_proportions",
]
