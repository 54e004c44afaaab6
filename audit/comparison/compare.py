"""Compare two runs figure by figure: :func:`compare_summaries`.

For each key figure (:mod:`audit.comparison.figures`) the change from run A to run B is tested
with the test its data allows, and assessed:

1. undefined in either run: ``undefined``;
2. taken over misclassified (or correctly classified) samples only, when the number of those
   samples changed significantly (the accuracy's test): ``not_comparable``, naming the
   counts ("errors 1 → 120") and the unconditional companion that carries the assessment;
3. fewer than ``min_n`` samples behind either figure (or fewer pairs): ``too_few``;
4. otherwise tested: paired on the same samples (McNemar's exact test for a proportion, a
   paired bootstrap for a mean) or, without them, by interval rules (Newcombe's interval for
   a proportion, combined intervals for a mean); a significant change in the better direction
   is an ``improvement``, in the worse a ``regression``, and a figure without a better
   direction (counter-evidence maps) ``changed``; else ``no_significant_change``.

The result is typed (:class:`Comparison`), serialises to ``comparison.json``, and is what the
report's baseline table, ``cam-audit compare`` and the run history read; drift tracking across
scheduled runs (``changes`` in ``summary.json``, a ``max_regression`` gate) is meant to call
the same function on a run and its predecessor and keep the :class:`FigureComparison` rows.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from audit.comparison.difference import Difference
from audit.comparison.figures import FigureValue, key_figures, sample_outcomes
from audit.comparison.mcnemar import paired_proportions
from audit.comparison.overall import METHODS_RULE, OVERALL_RULE, Overall, overall_answer
from audit.comparison.paired_bootstrap import paired_bootstrap
from audit.comparison.unpaired import combined_intervals, two_proportions
from audit.metrics.fdr import benjamini_hochberg, p_from_interval
from audit.metrics.sample_size import DEFAULT_MIN_N, TOO_FEW_TEXT, check_min_n
from audit.metrics.seeds import sub_seed
from audit.summary import Proportion, Stat, Summary

__all__ = ["Assessment", "Comparison", "FigureComparison", "Pairing", "compare_summaries",
           "pairing"]

Interval = tuple[float, float]

#: How a figure's change is judged (see the module's docstring).
Assessment = Literal["regression", "improvement", "no_significant_change", "changed",
                     "not_comparable", "too_few", "undefined"]

_CONDITION_WORDS = {"misclassified": "errors", "correct": "correct samples"}


class FigureComparison(BaseModel):
    """One figure of two runs, its change and the test of it: a row of ``comparison.json``.

    ``figure`` is the key (``"accuracy"``, ``"gradcam.background_fixation_per_sample"``),
    ``method`` the CAM method (None for run figures), ``a``/``b`` the two values with their
    ``n``, counts (proportions) and intervals; ``difference`` is ``b - a`` (for a paired
    bootstrap the mean per-sample difference over the pairs, which its interval is of);
    ``test``,
    ``p_value``, ``interval`` (of the difference), ``n_pairs``, ``discordant`` and
    ``significant`` come from the test (:class:`~audit.comparison.difference.Difference`;
    all None when the figure was not tested); ``note`` says why in words ("errors 1 → 120",
    "n=3 < min_n 10").
    """

    model_config = ConfigDict(frozen=True)

    figure: str
    label: str
    method: str | None
    kind: Literal["proportion", "mean"]
    unit: Literal["pct", "num"]
    better: Literal["higher", "lower"] | None
    condition: Literal["correct", "misclassified"] | None = None
    companion: str | None = None
    a: float | None = None
    b: float | None = None
    n_a: int = 0
    n_b: int = 0
    count_a: int | None = None
    count_b: int | None = None
    ci_a: Interval | None = None
    ci_b: Interval | None = None
    difference: float | None = None
    test: str | None = None
    p_value: float | None = None
    interval: Interval | None = None
    n_pairs: int | None = None
    discordant: tuple[int, int] | None = None
    significant: bool | None = None
    assessment: Assessment
    note: str = ""
    #: The Benjamini-Hochberg adjusted p-value across the comparison's tested figures (with
    #: ``fdr``; the p-value of an interval test recovered from its interval).
    p_adjusted: float | None = None


class Pairing(BaseModel):
    """Whether the runs can be compared sample by sample, and why (not)."""

    model_config = ConfigDict(frozen=True)

    paired: bool
    n_samples: int | None = None  # the samples both runs audited, when paired
    reason: str


class Comparison(BaseModel):
    """Two runs compared: ``comparison.json`` (``schema_version`` 1).

    ``a`` and ``b`` are the run ids; ``paired`` says whether the tests were paired on the same
    samples (``n_pairs`` of them) and ``pairing`` why (not); ``figures`` holds one
    :class:`FigureComparison` per key figure.

    ``overall`` is one of ``"B is worse than A"``, ``"B is better than A"``,
    ``"no significant change"`` or ``"mixed"``, by :data:`OVERALL_RULE`; ``sentence`` says it
    with the figures that moved.
    """

    model_config = ConfigDict(frozen=True)

    schema_version: int = 1
    a: str | None = None
    b: str | None = None
    paired: bool
    pairing: str
    n_pairs: int | None = None
    min_n: int
    confidence: float
    #: The false-discovery rate the figures' significance was controlled at (None: each
    #: figure tested on its own).
    fdr: float | None = None
    figures: list[FigureComparison]
    overall: str
    sentence: str
    regressions: list[str]
    improvements: list[str]
    rule: str = OVERALL_RULE
    tests: str = METHODS_RULE

    @property
    def answer(self) -> Overall:
        """The overall answer as a typed object."""
        return Overall(overall=self.overall, sentence=self.sentence,
                       regressions=self.regressions, improvements=self.improvements)

    def figure(self, key: str) -> FigureComparison:
        """The row of the figure ``key``; ``KeyError`` naming the keys otherwise."""
        for row in self.figures:
            if row.figure == key:
                return row
        raise KeyError(f"No figure {key!r}; figures: {', '.join(r.figure for r in self.figures)}")


def pairing(records_a: pd.DataFrame | None, records_b: pd.DataFrame | None) -> Pairing:
    """Whether two runs audited the same samples: both ``records.csv`` are there, hold the same
    ``sample_id`` values, and every sample has the same true class in both.

    Examples
    --------
    >>> pairing(None, None).reason
    'no records.csv of A or B: figures compared by interval rules'
    """
    if records_a is None or records_b is None:
        missing = " or ".join(side for side, r in (("A", records_a), ("B", records_b))
                              if r is None)
        return Pairing(paired=False,
                       reason=f"no records.csv of {missing}: figures compared by interval rules")
    labels_a = _labels(records_a)
    labels_b = _labels(records_b)
    only_a = labels_a.index.difference(labels_b.index)
    only_b = labels_b.index.difference(labels_a.index)
    if len(only_a) or len(only_b):
        return Pairing(paired=False, reason=(
            f"the runs audited different samples ({len(only_a)} only in A, {len(only_b)} only "
            "in B): figures compared by interval rules"))
    relabelled = int((labels_a != labels_b.reindex(labels_a.index)).sum())
    if relabelled:
        return Pairing(paired=False, reason=(
            f"{relabelled} sample(s) have another true class in B: figures compared by "
            "interval rules"))
    if labels_a.empty:
        return Pairing(paired=False, reason="no audited sample: nothing to pair")
    return Pairing(paired=True, n_samples=len(labels_a), reason=(
        f"the same {len(labels_a)} samples in both runs: per-sample outcomes compared pair by "
        "pair"))


def _labels(records: pd.DataFrame) -> pd.Series:
    samples = records.drop_duplicates("sample_id")
    return pd.Series(samples["label_index"].to_numpy(),
                     index=samples["sample_id"].astype(str).to_numpy()).sort_index()


def _number(stat: Stat) -> tuple[float | None, int | None]:
    count = stat.count if isinstance(stat, Proportion) else None
    return stat.mean, count


def _paired_test(figure: FigureValue, a: pd.Series, b: pd.Series, *, seed: int,
                 n_resamples: int, confidence: float) -> Difference:
    x = a.to_numpy(dtype=np.float64)
    y = b.reindex(a.index).to_numpy(dtype=np.float64)
    if figure.spec.kind == "proportion":
        return paired_proportions(x, y, confidence=confidence)
    return paired_bootstrap(x, y, seed=sub_seed(seed, f"compare.{figure.key}"),
                            n_resamples=n_resamples, confidence=confidence)


def _unpaired_test(a: Stat, b: Stat, kind: str, confidence: float) -> Difference:
    if kind == "proportion" and isinstance(a, Proportion) and isinstance(b, Proportion):
        return two_proportions(a.count, a.n, b.count, b.n, confidence=confidence)
    return combined_intervals(a.mean, a.ci, b.mean, b.ci)


def _assess(difference: Difference, better: str | None) -> Assessment:
    if not difference.significant:
        return "no_significant_change"
    if better is None:
        return "changed"
    worse = difference.difference < 0 if better == "higher" else difference.difference > 0
    return "regression" if worse else "improvement"


def _from_records(figure: FigureValue, outcomes: pd.Series | None, stat: Stat | None
                  ) -> Stat | None:
    """A figure a summary lacks (written before it existed), recomputed from the run's records
    when they hold it: the per-sample companion of an older run."""
    if stat is not None and stat.mean is not None:
        return stat
    if outcomes is None:
        return stat
    values = outcomes.to_numpy(dtype=np.float64)
    defined = values[~np.isnan(values)]
    if not defined.size:
        return stat
    if figure.spec.kind == "proportion":
        return Proportion(n=int(defined.size), count=int(np.count_nonzero(defined == 1.0)),
                          mean=float(defined.mean()), n_nan=int(values.size - defined.size))
    return Stat(n=int(defined.size), mean=float(defined.mean()),
                n_nan=int(values.size - defined.size))


def compare_summaries(
    a: Summary, b: Summary, *, records_a: pd.DataFrame | None = None,
    records_b: pd.DataFrame | None = None, min_n: int | None = None, confidence: float = 0.95,
    seed: int = 0, n_resamples: int = 1000, fdr: float | None = None,
) -> Comparison:
    """Compare run A (baseline, production) with run B (this run, candidate), figure by figure.

    Parameters
    ----------
    a, b : Summary
        The two runs' summaries (any schema version :func:`audit.summary.read_summary` reads;
        a :class:`~audit.summary.RunSummary` also names its run).
    records_a, records_b : pandas.DataFrame, optional
        The runs' ``records.csv``. With both, and the same samples in both
        (:func:`pairing`), per-sample outcomes are tested pair by pair; otherwise every
        figure is compared by interval rules. The records of a multi-label run (one per
        sample x target label) are not paired: its figures are compared by interval rules.
    min_n : int, optional
        The fewest samples (or pairs) a change is judged on; default the larger ``min_n`` the
        two summaries record, else :data:`~audit.metrics.sample_size.DEFAULT_MIN_N`.
    confidence : float, optional
        Confidence level of every interval; a p-value below ``1 - confidence`` is significant.
    seed : int, optional
        Seed of the paired bootstraps (each figure's from
        :func:`audit.analysis.aggregate.sub_seed` of ``"compare.<figure>"``).
    n_resamples : int, optional
        Resamples of each paired bootstrap.
    fdr : float, optional
        Control the false-discovery rate across the tested figures at this level
        (Benjamini-Hochberg, :func:`audit.metrics.fdr.benjamini_hochberg`): a change is
        significant only when its adjusted p-value is at most ``fdr``; the p-value of an
        interval test is recovered from its interval
        (:func:`audit.metrics.fdr.p_from_interval`). None: each figure on its own.

    Returns
    -------
    Comparison
        Every key figure of either run (B's order, then figures only A has), with its test and
        assessment (see the module's docstring), and the overall answer
        (:func:`audit.comparison.overall.overall_answer`).

    Raises
    ------
    ValueError
        If ``min_n``, ``confidence``, ``seed`` or ``n_resamples`` is out of range.

    Examples
    --------
    >>> from audit.summary import Summary
    >>> run = Summary.model_validate({"n_samples": 120, "accuracy": 0.5,
    ...                               "correct": {"n": 120, "count": 60, "mean": 0.5}})
    >>> comparison = compare_summaries(run, run)
    >>> comparison.overall, comparison.figure("accuracy").test
    ('no significant change', 'newcombe')
    """
    if min_n is None:
        recorded = [s.min_n for s in (a, b) if s.min_n is not None]
        min_n = max(recorded) if recorded else DEFAULT_MIN_N
    min_n = check_min_n(min_n)
    if a.multilabel is not None or b.multilabel is not None:
        records_a = records_b = None  # one record per sample x label: no per-sample outcome
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1; got {confidence!r}")
    paired = pairing(records_a, records_b)

    figures_a = {f.key: f for f in key_figures(a)}
    figures_b = {f.key: f for f in key_figures(b)}
    keys = list(figures_b) + [k for k in figures_a if k not in figures_b]

    rows: dict[str, FigureComparison] = {}
    for key in keys:
        fa, fb = figures_a.get(key), figures_b.get(key)
        ref = fb or fa
        outcomes_a = sample_outcomes(records_a, ref) if records_a is not None and fa else None
        outcomes_b = sample_outcomes(records_b, ref) if records_b is not None and fb else None
        stat_a = _from_records(ref, outcomes_a, fa.stat if fa else None)
        stat_b = _from_records(ref, outcomes_b, fb.stat if fb else None)
        rows[key] = _compare_one(
            ref, stat_a, stat_b, outcomes_a if paired.paired else None,
            outcomes_b if paired.paired else None, conditioning=rows.get("accuracy"),
            min_n=min_n, confidence=confidence, seed=seed, n_resamples=n_resamples)

    figures = list(rows.values())
    if fdr is not None:
        figures = control_fdr(figures, fdr=fdr, confidence=confidence)
    answer = overall_answer(figures)
    return Comparison(
        a=getattr(a, "run_id", None), b=getattr(b, "run_id", None),
        paired=paired.paired, pairing=paired.reason, n_pairs=paired.n_samples, min_n=min_n,
        confidence=confidence, fdr=fdr, figures=figures, overall=answer.overall,
        sentence=answer.sentence, regressions=answer.regressions,
        improvements=answer.improvements)


def _compare_one(figure: FigureValue, a: Stat | None, b: Stat | None, outcomes_a, outcomes_b,
                 *, conditioning: FigureComparison | None, min_n: int, confidence: float,
                 seed: int, n_resamples: int) -> FigureComparison:
    spec = figure.spec
    mean_a, count_a = _number(a) if a is not None else (None, None)
    mean_b, count_b = _number(b) if b is not None else (None, None)
    n_a, n_b = (a.n if a else 0), (b.n if b else 0)
    row = dict(
        figure=figure.key, label=spec.label, method=figure.method, kind=spec.kind,
        unit=spec.unit, better=figure.better, condition=spec.condition,
        companion=figure.companion_key, a=mean_a, b=mean_b, n_a=n_a, n_b=n_b,
        count_a=count_a, count_b=count_b, ci_a=a.ci if a else None, ci_b=b.ci if b else None,
        difference=mean_b - mean_a if mean_a is not None and mean_b is not None else None,
    )
    if mean_a is None or mean_b is None:
        return FigureComparison(**row, assessment="undefined",
                                note="undefined in " + ("A and B" if mean_a is None
                                                        and mean_b is None else
                                                        "A" if mean_a is None else "B"))
    if spec.condition is not None and conditioning is not None and conditioning.significant:
        return FigureComparison(**row, assessment="not_comparable",
                                note=_not_comparable(spec.condition, conditioning))
    if min(n_a, n_b) < min_n:
        return FigureComparison(**row, assessment="too_few",
                                note=f"{TOO_FEW_TEXT}: n={min(n_a, n_b)} < min_n {min_n}")
    if outcomes_a is not None and outcomes_b is not None:
        difference = _paired_test(figure, outcomes_a, outcomes_b, seed=seed,
                                  n_resamples=n_resamples, confidence=confidence)
        if (difference.n_pairs or 0) < min_n:
            return FigureComparison(**row, assessment="too_few", n_pairs=difference.n_pairs,
                                    note=f"{TOO_FEW_TEXT}: {difference.n_pairs} pairs < min_n "
                                         f"{min_n}")
    else:
        difference = _unpaired_test(a, b, spec.kind, confidence)
        if difference.significant is None:
            return FigureComparison(**row, assessment="undefined", test=difference.test,
                                    note="no interval to test the change with")
    fields = difference.model_dump(exclude={"difference"})
    if difference.test == "paired-bootstrap":
        # The interval is of the mean per-sample difference; keep it beside b - a.
        row["difference"] = difference.difference
    return FigureComparison(**row, **fields, assessment=_assess(difference, figure.better))


def control_fdr(figures: list[FigureComparison], *, fdr: float, confidence: float
                ) -> list[FigureComparison]:
    """``figures`` with their significance controlled at false-discovery rate ``fdr``
    across the tested ones (Benjamini-Hochberg): a figure significant on its own but not after
    the control becomes ``no_significant_change`` and its note says so."""
    tested = [i for i, f in enumerate(figures) if f.significant is not None]
    p = [f.p_value if f.p_value is not None else
         p_from_interval(f.difference, f.interval, confidence=confidence)
         for f in (figures[i] for i in tested)]
    rejected, adjusted = benjamini_hochberg(p, q=fdr)
    out = list(figures)
    for k, i in enumerate(tested):
        row = figures[i]
        update: dict = {"p_adjusted": None if np.isnan(adjusted[k]) else float(adjusted[k])}
        if row.significant and not rejected[k]:
            update.update(significant=False, assessment="no_significant_change",
                          note=(f"{row.note}; " if row.note else "") +
                          f"significant alone, not after false-discovery-rate control "
                          f"(Benjamini-Hochberg, q={fdr:g}, {len(tested)} figures)")
        out[i] = row.model_copy(update=update)
    return out


def _not_comparable(condition: str, conditioning: FigureComparison) -> str:
    """"errors 1 → 120" (or "correct samples 119 → 0") from the accuracy's row."""
    def samples(count, n):
        if count is None or n is None:
            return "?"
        return str(n - count if condition == "misclassified" else count)
    before = samples(conditioning.count_a, conditioning.n_a)
    after = samples(conditioning.count_b, conditioning.n_b)
    return f"{_CONDITION_WORDS[condition]} {before} → {after}"
