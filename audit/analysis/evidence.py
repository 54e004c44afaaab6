"""Combine the evidence stages' rows into the summary's evidence figures.

The behavioural test's ``samples.csv`` rows, the faithfulness rows and the sanity curves become
:class:`~audit.summary.BehaviourFigures`, :class:`~audit.summary.FaithfulnessFigures`,
:class:`~audit.summary.SanityFigures` and :class:`~audit.summary.AgreementFigures`. Like
:mod:`audit.analysis.aggregate`, every interval is a seeded bootstrap with its own sub-seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.evidence import (
    cohens_kappa,
    confidence_drop,
    confidence_increase,
    mean_interval,
    paired_differences,
    samples_to_decide,
    signed_rank_p,
)
from audit.metrics import describe
from audit.metrics.proportions import describe_proportion
from audit.metrics.seeds import sub_seed
from audit.summary import (
    AgreementFigures,
    BehaviourFigures,
    BehaviourSplit,
    Estimate,
    FaithfulnessFigures,
    FaithfulnessRun,
    PairedFigure,
    PairedFigures,
    Proportion,
    SanityFigures,
    Stat,
    SwapSplit,
)

__all__ = ["SWAP_COLUMNS", "behaviour_agreement", "behaviour_figures", "faithfulness_figures",
           "has_swap", "method_differences", "sanity_figures", "swap_split"]


def _estimate(values, *, seed: int, name: str, n_resamples: int, min_n: int,
              share: bool = True) -> Estimate:
    """A share of 0/1 values with its Wilson interval, or (``share=False``) a mean with its
    seeded bootstrap interval; no interval below ``min_n`` values."""
    values = np.asarray(values, dtype=np.float64)
    if share:
        stat = describe_proportion(values, min_n=min_n)
    else:
        stat = describe(values, seed=sub_seed(seed, name), n_resamples=n_resamples,
                        min_n=min_n)
    low, high = stat["ci"] if stat["ci"] else (None, None)
    return Estimate(n=stat["n"], value=stat["mean"], ci_low=low, ci_high=high,
                    count=stat.get("count"), method=stat.get("method"),
                    too_few=bool(stat.get("too_few")))


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


#: The ``samples.csv`` columns of the background swap.
SWAP_COLUMNS = ("correct_mixed_same", "correct_mixed_rand", "follows_background")


def has_swap(samples: pd.DataFrame) -> bool:
    """Whether any row of ``samples`` has a Mixed-Same or Mixed-Rand decision (the
    ``background_swap`` stage ran and could draw a donor)."""
    return all(c in samples.columns for c in SWAP_COLUMNS) and bool(
        samples[list(SWAP_COLUMNS[:2])].notna().to_numpy().any())


def swap_split(rows: pd.DataFrame, *, seed: int, name: str, n_resamples: int,
               min_n: int) -> SwapSplit:
    """The background swap's figures over ``rows`` (``samples.csv`` rows): see
    :class:`~audit.summary.SwapSplit`. The three accuracies and BG-Gap are over the samples
    with both a Mixed-Same and a Mixed-Rand image, so they describe the same objects and
    ``bg_gap`` is the difference of the two Mixed accuracies (as in ImageNet-9, where every
    image has every variant); the follow rate over the samples where it is defined."""
    same, rand = _floats(rows, "correct_mixed_same"), _floats(rows, "correct_mixed_rand")
    both = ~np.isnan(same) & ~np.isnan(rand)
    follows = _floats(rows, "follows_background")
    options = dict(seed=seed, n_resamples=n_resamples, min_n=min_n)
    return SwapSplit(
        n=int(both.sum()),
        accuracy_original=_estimate(rows["correct"].to_numpy(dtype=float)[both],
                                    name=f"{name}.accuracy_original", **options),
        accuracy_mixed_same=_estimate(same[both], name=f"{name}.accuracy_mixed_same",
                                      **options),
        accuracy_mixed_rand=_estimate(rand[both], name=f"{name}.accuracy_mixed_rand",
                                      **options),
        bg_gap=_estimate(same[both] - rand[both], name=f"{name}.bg_gap", share=False,
                         **options),
        background_follow_rate=_estimate(follows[~np.isnan(follows)],
                                         name=f"{name}.background_follow_rate", **options))


def _split(rows: pd.DataFrame, *, seed: int, name: str, n_resamples: int,
           min_n: int, swap: bool = False) -> BehaviourSplit:
    defined = rows[rows["keeps_without_object"].notna() & rows["keeps_without_background"].notna()]
    difference = _floats(defined, "keeps_without_object") - _floats(
        defined, "keeps_without_background")
    return BehaviourSplit(
        n=len(defined),
        keeps_without_object=_estimate(_floats(defined, "keeps_without_object"), seed=seed,
                                       name=f"{name}.keeps_without_object",
                                       n_resamples=n_resamples, min_n=min_n),
        keeps_without_background=_estimate(_floats(defined, "keeps_without_background"),
                                           seed=seed, name=f"{name}.keeps_without_background",
                                           n_resamples=n_resamples, min_n=min_n),
        background_reliance=_estimate(difference, seed=seed,
                                      name=f"{name}.background_reliance",
                                      n_resamples=n_resamples, min_n=min_n, share=False),
        swap=swap_split(rows, seed=seed, name=f"{name}.swap", n_resamples=n_resamples,
                        min_n=min_n) if swap else None)


def behaviour_figures(samples: pd.DataFrame, *, class_names: list[str], fill: str, seed: int,
                      n_resamples: int, min_n: int = 1) -> BehaviourFigures:
    """The behavioural test's figures from the ``samples.csv`` rows.

    ``background_reliance`` = keeps_without_object - keeps_without_background, over the samples
    with a region (its interval: a bootstrap of the per-sample differences);
    ``accuracy_object_only`` is the accuracy on the background-removed images (only the object
    left, ImageNet-9's Only-FG) and ``accuracy_background_only`` on the object-removed ones
    (Only-BG); ``background_decision_rate`` is the share of misclassified samples whose
    decision survives the object's removal but not the background's (or, where the
    ``background_swap`` stage made a Mixed-Rand image, whose decision followed the donor
    background's class: the strongest evidence per sample, ``background_evidence``).
    With swap columns, every split also has its :class:`~audit.summary.SwapSplit`
    (``swap``): Mixed-Same / Mixed-Rand accuracy, ``bg_gap`` and the background-follow rate.
    """
    samples = samples.sort_values("sample_id", kind="mergesort")
    correct = samples["correct"].to_numpy(dtype=bool)
    swap = has_swap(samples)
    whole = _split(samples, seed=seed, name="behaviour", n_resamples=n_resamples, min_n=min_n,
                   swap=swap)
    edited = samples[samples["keeps_without_object"].notna()]
    per_class = {}
    for name in class_names:
        rows = samples[samples["label"] == name]
        per_class[name] = _split(rows, seed=seed, name=f"behaviour.per_class.{name}",
                                 n_resamples=n_resamples, min_n=min_n, swap=swap)
    return BehaviourFigures(
        **dict(whole), fill=fill,
        correct=_split(samples[correct], seed=seed, name="behaviour.correct",
                       n_resamples=n_resamples, min_n=min_n, swap=swap),
        misclassified=_split(samples[~correct], seed=seed, name="behaviour.misclassified",
                             n_resamples=n_resamples, min_n=min_n, swap=swap),
        per_class=per_class,
        accuracy_object_only=_estimate(
            (edited["predicted_without_background"] == edited["label"]).to_numpy(float),
            seed=seed, name="behaviour.accuracy_object_only", n_resamples=n_resamples,
            min_n=min_n),
        accuracy_background_only=_estimate(
            (edited["predicted_without_object"] == edited["label"]).to_numpy(float),
            seed=seed, name="behaviour.accuracy_background_only", n_resamples=n_resamples,
            min_n=min_n),
        background_decision_rate=_estimate(
            _floats(samples[~correct], "background_decision"), seed=seed,
            name="behaviour.background_decision_rate", n_resamples=n_resamples, min_n=min_n),
        # The unconditional companion: background-decided errors over every sample with a
        # region, comparable across runs whose numbers of errors differ.
        background_decision_per_sample=_estimate(
            (_floats(edited, "background_decision") == 1.0).astype(float), seed=seed,
            name="behaviour.background_decision_per_sample", n_resamples=n_resamples,
            min_n=min_n),
        decision_evidence=_evidence_counts(samples[~correct]),
    )


#: The paired figures: (summary key, row column or derived score, which way is better).
_PAIRED = {"deletion": ("deletion_auc", "lower"), "insertion": ("insertion_auc", "higher"),
           "average_drop": ("average_drop", "lower"),
           "increase_in_confidence": ("increase_in_confidence", "higher")}

#: What the summary says about the test that decides.
TEST = ("Wilcoxon signed-rank, one-sided, on the per-image differences against the mean of "
        "the random maps (exact for n <= 50 without ties or n <= 13 with ties, normal "
        "approximation otherwise); "
        "intersection-union over deletion and insertion; Holm across the run's methods")


def _per_map_scores(rows: pd.DataFrame, figure: str) -> pd.Series:
    """One value per row: an area, or a row's confidence drop / increase."""
    if figure in ("deletion", "insertion"):
        return rows[f"{figure}_auc"].astype(np.float64)
    score, masked = _floats(rows, "score"), _floats(rows, "masked_score")
    values = (confidence_drop(score, masked) if figure == "average_drop"
              else confidence_increase(score, masked))
    return pd.Series(values, index=rows.index)


def method_differences(rows: pd.DataFrame, method: str, figure: str) -> np.ndarray:
    """The paired differences of ``method`` against the random maps for ``figure``
    (``"deletion"``, ``"insertion"``, ``"average_drop"``, ``"increase_in_confidence"``), one
    per sample in sample-id order, positive = better than random (see
    :func:`audit.evidence.paired_differences`); the random side is the mean of the sample's
    ``K`` random maps (its ``replicate`` rows)."""
    column, better = _PAIRED[figure]
    del column
    own = rows[rows["map"] == method]
    random = rows[rows["map"] == "random"]
    mine = pd.Series(_per_map_scores(own, figure).to_numpy(), index=own["sample_id"])
    table = pd.DataFrame({"sample_id": random["sample_id"].to_numpy(),
                          "replicate": random["replicate"].to_numpy(),
                          "value": _per_map_scores(random, figure).to_numpy()})
    wide = table.pivot(index="sample_id", columns="replicate", values="value")
    ids = sorted(set(mine.index) & set(wide.index))
    return paired_differences(mine.reindex(ids).to_numpy(np.float64),
                              wide.reindex(ids).to_numpy(np.float64), better=better)


def _random_means(rows: pd.DataFrame) -> pd.DataFrame:
    """The random map's rows averaged per sample over its ``K`` maps (the baseline each
    method is paired with); the other maps' rows unchanged."""
    random = rows[rows["map"] == "random"]
    if random.empty or random["replicate"].max() == 0:
        return rows
    drop = confidence_drop(_floats(random, "score"), _floats(random, "masked_score"))
    increase = confidence_increase(_floats(random, "score"), _floats(random, "masked_score"))
    means = (random.assign(_drop=drop, _increase=increase)
             .groupby("sample_id", sort=True)
             .agg(correct=("correct", "first"), score=("score", "first"),
                  deletion_auc=("deletion_auc", "mean"), insertion_auc=("insertion_auc", "mean"),
                  _drop=("_drop", "mean"), _increase=("_increase", "mean"))
             .reset_index())
    means["map"] = "random"
    means["replicate"] = 0
    return pd.concat([rows[rows["map"] != "random"], means], ignore_index=True)


def _evidence_counts(misclassified: pd.DataFrame) -> dict[str, int]:
    """``{"swap": n, "fill": n}``: the misclassified samples whose ``background_decision``
    rests on each kind of evidence (``samples.csv`` files written before the swap: all fill)."""
    if "background_evidence" not in misclassified.columns:
        return {"fill": int(misclassified["background_decision"].notna().sum())}
    kinds = misclassified["background_evidence"].fillna("").astype(str)
    return {kind: int((kinds == kind).sum()) for kind in ("swap", "fill")}


def _faithfulness(rows: pd.DataFrame, name: str, *, seed: int, n_resamples: int,
                  min_n: int) -> FaithfulnessFigures:
    def stat(values, figure):
        return Stat(**describe(np.asarray(values, np.float64),
                               seed=sub_seed(seed, f"faithfulness.{name}.{figure}"),
                               n_resamples=n_resamples, min_n=min_n))

    if name == "random" and "_drop" in rows:  # the per-sample means over its K maps
        drop, increase = _floats(rows, "_drop"), _floats(rows, "_increase")
    else:
        score, masked = _floats(rows, "score"), _floats(rows, "masked_score")
        drop, increase = confidence_drop(score, masked), confidence_increase(score, masked)
    if np.isin(increase[~np.isnan(increase)], (0.0, 1.0)).all():
        proportion = Proportion(**describe_proportion(increase, min_n=min_n))
    else:  # the random map's share over its K maps per sample: a mean, bootstrapped
        proportion = Proportion(**stat(increase, "increase_in_confidence").model_dump())
    return FaithfulnessFigures(
        n=len(rows),
        deletion_auc=stat(_floats(rows, "deletion_auc"), "deletion_auc"),
        insertion_auc=stat(_floats(rows, "insertion_auc"), "insertion_auc"),
        average_drop=stat(drop, "average_drop"),
        increase_in_confidence=proportion)


def _paired(rows: pd.DataFrame, method: str, *, seed: int, n_resamples: int) -> PairedFigures:
    out = {}
    for figure, (key, _) in _PAIRED.items():
        d = method_differences(rows, method, figure)
        mean, low, high, n = mean_interval(
            d, seed=sub_seed(seed, f"faithfulness.{method}.paired.{key}"),
            n_resamples=n_resamples)
        out[key] = PairedFigure(n=n, mean=None if n == 0 else mean,
                                ci=None if n < 2 else (low, high),
                                p_value=signed_rank_p(d) if n else None)
    return PairedFigures(**out)


def faithfulness_figures(result, *, baselines: tuple[str, ...], seed: int, n_resamples: int,
                         min_n: int = 1) -> tuple[dict[str, FaithfulnessFigures],
                                                  dict[str, FaithfulnessFigures],
                                                  FaithfulnessRun]:
    """``(methods, baselines, run)`` from the faithfulness stage's result
    (:class:`~audit.stages.faithfulness.FaithfulnessResult`): the figures of every map kind
    in its rows (the random map's: per-sample means of its ``K`` maps), each method's paired
    figures against random over the samples used and the stage's decision (its one
    producer), and how the run decided (:class:`~audit.summary.FaithfulnessRun`)."""
    rows = result.rows
    averaged = _random_means(rows)
    figures = {name: _faithfulness(part, name, seed=seed, n_resamples=n_resamples, min_n=min_n)
               for name, part in averaged.groupby("map", sort=False)}
    kept = {name: f for name, f in figures.items() if name in baselines}
    decisions = result.decisions
    n_methods = len(decisions)
    final_level = result.levels[-1] if result.levels else result.alpha
    methods = {}
    for name, f in figures.items():
        if name in baselines:
            continue
        decision = decisions.get(name)
        update: dict = {"paired": _paired(rows, name, seed=seed, n_resamples=n_resamples)
                        if "random" in kept else None}
        if decision is not None:
            needed = None
            if decision.outcome == "undecided":
                needed = samples_to_decide(method_differences(rows, name, "deletion"),
                                           method_differences(rows, name, "insertion"),
                                           alpha=final_level, margin=result.margin,
                                           n_methods=n_methods)
                if needed is not None and needed <= result.n_used:
                    # The estimate is noisy: these samples should have decided and did not,
                    # so suggest the next doubling rather than a number already passed.
                    needed = 2 * result.n_used
            update.update(outcome=decision.outcome, p_value=_finite(decision.p_value),
                          p_adjusted=_finite(decision.p_adjusted), level=decision.level,
                          decided_at=decision.decided_at, samples_to_decide=needed)
        methods[name] = f.model_copy(update=update)
    outcomes = [m.outcome for m in methods.values()]
    undecided = [m.samples_to_decide for m in methods.values() if m.outcome == "undecided"]
    run = FaithfulnessRun(
        test=TEST, alpha=result.alpha, margin=result.margin, random_maps=result.random_maps,
        sequential=result.sequential, stopping_rule=result.stopping_rule,
        looks=list(result.looks), levels=list(result.levels), n_available=result.n_available,
        n_used=result.n_used, stopped_early=result.stopped_early,
        n_faithful=outcomes.count("faithful"), n_not_faithful=outcomes.count("not faithful"),
        n_undecided=outcomes.count("undecided"),
        samples_to_decide=max((n for n in undecided if n is not None), default=None))
    return methods, kept, run


def _finite(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def sanity_figures(result, *, max_similarity: float) -> dict[str, SanityFigures]:
    """Per method, the curves of a :class:`~audit.stages.sanity.SanityResult`; ``passed`` when
    the mean Spearman correlation after full randomisation is below ``max_similarity``."""
    out = {}
    for method, curve in result.spearman.items():
        last = curve[-1] if len(curve) > 1 else None
        out[method] = SanityFigures(n=result.n, layers=list(result.layers),
                                    spearman=list(curve), ssim=list(result.ssim[method]),
                                    passed=None if last is None else bool(last < max_similarity))
    return out


def behaviour_agreement(records: pd.DataFrame, samples: pd.DataFrame) -> dict[str,
                                                                                AgreementFigures]:
    """Per method, how often its fixation flag equals ``background_decision`` on the
    misclassified samples where both are defined, and Cohen's kappa. ``background_decision``
    is the strongest behavioural evidence per sample: the background swap's where it was
    made, the fill test's otherwise."""
    decisions = samples.set_index("sample_id")["background_decision"]
    rows = records[(records["target"] == "predicted") & records["background_fixation"].notna()]
    out = {}
    for method, part in rows.groupby("method", sort=True):
        flags = part.set_index("sample_id")["background_fixation"]
        joined = pd.concat([flags, decisions.reindex(flags.index)], axis=1).dropna()
        a, b = joined.iloc[:, 0].to_numpy(float), joined.iloc[:, 1].to_numpy(float)
        kappa = cohens_kappa(a, b) if len(joined) else float("nan")
        out[str(method)] = AgreementFigures(
            n=len(joined), agreement=float((a == b).mean()) if len(joined) else None,
            kappa=None if np.isnan(kappa) else float(kappa))
    return out
