"""Face verification metrics following the LFW protocol (scikit-learn's ROC and AUC; matplotlib plots).

Inputs are one similarity per pair (higher = more alike, e.g. cosine) and whether the pair shows
the same person. A pair is predicted "same" when similarity >= threshold.

- View 1 (pairsDevTest.txt, no folds): accuracy at the best threshold over all pairs (optimistic:
  the threshold is fitted on the test pairs themselves).
- View 2 (pairs.txt, 10 folds): the standard 10-fold protocol: the threshold is chosen on 9 folds
  and accuracy measured on the 10th; reported as mean and standard deviation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn import metrics

FAR_TARGET = 1e-3


@dataclass(frozen=True)
class Pair:
    path_a: Path
    path_b: Path
    same: bool
    fold: int  # 0..9 for View 2, -1 for View 1


def _image_path(images_dir: Path, name: str, number: str) -> Path:
    return images_dir / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(pairs_file: Path, images_dir: Path) -> list[Pair]:
    """Read an LFW pairs file.

    View 1 (pairsDevTest.txt): first line = pairs per class (500: 500 same + 500 different; a total
    count is accepted too); then `Name i j` (same person) or
    `Name1 i Name2 j` (different); fold = -1.
    View 2 (pairs.txt): first line `folds pairs_per_class`; then per fold that many same-person
    lines followed by as many different-person lines; fold = 0..folds-1.
    Images are images_dir/Name/Name_000i.jpg. Raises ValueError for a malformed file.
    """
    pairs_file, images_dir = Path(pairs_file), Path(images_dir)
    lines = [line.split() for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    lines = [tokens for tokens in lines if tokens]
    if not lines:
        raise ValueError(f"{pairs_file.name} is empty; expected an LFW pairs file.")
    header, body = lines[0], lines[1:]
    try:
        numbers = [int(token) for token in header]
    except ValueError:
        raise ValueError(f"{pairs_file.name}: the first line must be a pair count or 'folds per_fold'.") from None
    if len(numbers) == 1:  # LFW's header is the count per class; accept a total count too
        folds, per_fold = 0, numbers[0]
        expected = 2 * per_fold if len(body) == 2 * per_fold else per_fold
    elif len(numbers) == 2:
        folds, per_fold = numbers
        expected = folds * per_fold * 2
    else:
        raise ValueError(f"{pairs_file.name}: the first line must be a pair count or 'folds per_fold'.")
    if len(body) != expected:
        raise ValueError(f"{pairs_file.name}: the header promises {expected} pairs but there are {len(body)}.")

    pairs: list[Pair] = []
    for line_number, tokens in enumerate(body, start=2):
        fold = (line_number - 2) // (2 * per_fold) if folds else -1
        try:
            if len(tokens) == 3:
                name, i, j = tokens
                pair = Pair(_image_path(images_dir, name, i), _image_path(images_dir, name, j), True, fold)
            elif len(tokens) == 4:
                name_a, i, name_b, j = tokens
                pair = Pair(_image_path(images_dir, name_a, i), _image_path(images_dir, name_b, j), False, fold)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{pairs_file.name} line {line_number}: expected 'Name i j' or 'Name1 i Name2 j'."
            ) from None
        if folds and pair.same != ((line_number - 2) % (2 * per_fold) < per_fold):
            raise ValueError(f"{pairs_file.name} line {line_number}: same/different pair out of fold order.")
        pairs.append(pair)
    return pairs


@dataclass
class VerificationReport:
    """Verification results. accuracy is a fraction (0..1).

    tar_at_far_1e3: true-accept rate at false-accept rate 1e-3, linearly interpolated on the ROC
    (between the best TAR at the two neighbouring achievable FARs). With fewer than 1,000
    different-person pairs FAR moves in steps of 1/negatives (0.002 for 500), so it is the mean of
    TAR at FAR=0 and TAR at FAR=0.002 there; `far_resolution` says which step applies.
    threshold: the best-accuracy threshold on all pairs (suggested match threshold).
    threshold_at_far_1e3: the lowest threshold whose FAR on these pairs is <= 1e-3.
    """

    accuracy: float
    accuracy_std: float | None
    auc: float
    tar_at_far_1e3: float
    threshold: float
    pairs: int
    folds: int | None
    roc_fpr: np.ndarray
    roc_tpr: np.ndarray
    roc_thresholds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fold_accuracies: list[float] = field(default_factory=list)
    threshold_at_far_1e3: float = math.nan
    positives: int = 0
    negatives: int = 0

    @property
    def far_resolution(self) -> float:
        return 1.0 / self.negatives if self.negatives else math.nan

    def to_json(self, include_roc: bool = False) -> dict:
        result = {
            "accuracy": round(self.accuracy, 6),
            "accuracy_std": None if self.accuracy_std is None else round(self.accuracy_std, 6),
            "auc": round(self.auc, 6),
            "tar_at_far_1e-3": round(self.tar_at_far_1e3, 6),
            "threshold": round(self.threshold, 6),
            "threshold_at_far_1e-3": round(self.threshold_at_far_1e3, 6),
            "pairs": self.pairs,
            "positives": self.positives,
            "negatives": self.negatives,
            "far_resolution": round(self.far_resolution, 6),
            "folds": self.folds,
            "fold_accuracies": [round(a, 6) for a in self.fold_accuracies],
            "protocol": "10-fold cross-validation" if self.folds else "best threshold on all pairs",
        }
        if include_roc:
            result["roc_fpr"] = [float(x) for x in self.roc_fpr]
            result["roc_tpr"] = [float(x) for x in self.roc_tpr]
        return result


def roc_curve(similarities: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC points (fpr, tpr, thresholds) from the strictest threshold to the loosest, one per distinct score.

    Point k means "same if similarity >= thresholds[k]"; the first point (0, 0) has threshold +inf.
    """
    scores, labels = _check_inputs(similarities, same)
    fpr, tpr, thresholds = metrics.roc_curve(labels, scores, drop_intermediate=False)
    thresholds[0] = np.inf  # scikit-learn's "accept nothing" point
    return fpr, tpr, thresholds


def tar_at_far(fpr: np.ndarray, tpr: np.ndarray, far: float) -> float:
    """TAR at `far`, linearly interpolated on the ROC's upper envelope (best TAR per FAR)."""
    unique_fpr, first = np.unique(fpr, return_index=True)
    best_tpr = np.maximum.reduceat(tpr, first)  # fpr ascends, so group starts ascend too
    return float(np.interp(far, unique_fpr, best_tpr))


def best_threshold(similarities: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy of "same if similarity >= threshold".

    Candidates are midpoints between neighbouring distinct scores (plus one above the highest and
    one below the lowest). On a tie the highest (strictest) threshold wins.
    """
    scores, labels = _check_inputs(similarities, same)
    fpr, tpr, thresholds = roc_curve(scores, labels)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    correct = tpr * positives + (1.0 - fpr) * negatives
    best = int(np.argmax(correct))
    distinct = thresholds[1:]  # descending distinct scores
    if best == 0:
        threshold = float(distinct[0]) + 1e-6  # reject everything
    elif best == len(distinct):
        threshold = float(distinct[-1])  # accept everything
    else:
        threshold = float((distinct[best - 1] + distinct[best]) / 2)
    return threshold, float(correct[best] / len(scores))


def _accuracy(similarities: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(np.mean((similarities >= threshold) == same))


def _check_inputs(similarities: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(similarities, dtype=np.float64).reshape(-1)
    labels = np.asarray(same, dtype=bool).reshape(-1)
    if scores.shape != labels.shape:
        raise ValueError(f"{len(scores)} similarities but {len(labels)} labels.")
    if not np.all(np.isfinite(scores)):
        raise ValueError("Similarities contain NaN or infinity; give failed pairs a real score (e.g. -1).")
    return scores, labels


def verification_report(
    similarities: np.ndarray, same: np.ndarray, folds: np.ndarray | None = None
) -> VerificationReport:
    """Accuracy, ROC/AUC, TAR@FAR=1e-3 and a suggested threshold for verification pairs.

    folds (one int per pair, View 2): 10-fold cross-validated accuracy (mean, std); None or all
    negative (View 1): best-threshold accuracy over all pairs, accuracy_std None.
    """
    scores, labels = _check_inputs(similarities, same)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("Verification needs both same-person and different-person pairs.")
    fpr, tpr, thresholds = roc_curve(scores, labels)
    threshold, overall_accuracy = best_threshold(scores, labels)

    fold_ids = None if folds is None else np.asarray(folds).reshape(-1)
    if fold_ids is not None and fold_ids.shape != scores.shape:
        raise ValueError(f"{len(fold_ids)} fold numbers for {len(scores)} pairs.")
    distinct_folds = [] if fold_ids is None else sorted(int(f) for f in np.unique(fold_ids) if f >= 0)
    fold_accuracies: list[float] = []
    if fold_ids is not None and len(distinct_folds) >= 2:
        for fold in distinct_folds:
            test = fold_ids == fold
            train = ~test & (fold_ids >= 0)
            fold_threshold, _ = best_threshold(scores[train], labels[train])
            fold_accuracies.append(_accuracy(scores[test], labels[test], fold_threshold))
        accuracy, accuracy_std = float(np.mean(fold_accuracies)), float(np.std(fold_accuracies))
    else:
        accuracy, accuracy_std = overall_accuracy, None

    loosest = int(np.flatnonzero(fpr <= FAR_TARGET)[-1])
    # index 0 (+inf) means only "accept nothing" keeps FAR that low: report just above the top score
    threshold_at_far = float(thresholds[loosest]) if loosest else float(np.nextafter(thresholds[1], np.inf))
    return VerificationReport(
        accuracy=accuracy,
        accuracy_std=accuracy_std,
        auc=float(metrics.roc_auc_score(labels, scores)),
        tar_at_far_1e3=tar_at_far(fpr, tpr, FAR_TARGET),
        threshold=threshold,
        pairs=len(scores),
        folds=len(fold_accuracies) or None,
        roc_fpr=fpr,
        roc_tpr=tpr,
        roc_thresholds=thresholds,
        fold_accuracies=fold_accuracies,
        threshold_at_far_1e3=threshold_at_far,
        positives=positives,
        negatives=negatives,
    )


# ROC plot ------------------------------------------------------------------------------------------

CURVE_COLOR = (200, 90, 20)  # BGR (as OpenCV reads the PNG back): a strong blue
PLOT_SIZE_PX = 600
PLOT_DPI = 100


def save_roc_plot(
    report: VerificationReport,
    path: Path,
    title: str,
    others: tuple[tuple[str, VerificationReport], ...] = (),
    main_name: str = "",
) -> Path:
    """Write the ROC curve as a 600x600 PNG: axes, chance diagonal, curve and a summary box.
    others: more (name, report) curves on the same axes, with a legend (`main_name` names the main one);
    the summary box describes the main report.
    matplotlib is imported here only, with the Agg backend (no display, and nothing for the app to load)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blue, green, red = CURVE_COLOR
    side = PLOT_SIZE_PX / PLOT_DPI
    figure = Figure(figsize=(side, side), dpi=PLOT_DPI, layout="constrained")
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1)
    axes.plot(
        np.r_[report.roc_fpr, 1.0],
        np.r_[report.roc_tpr, 1.0],
        color=(red / 255, green / 255, blue / 255),
        linewidth=2,
        label=f"{main_name}  AUC {report.auc:.4f}",
    )
    for name, other in others:
        axes.plot(
            np.r_[other.roc_fpr, 1.0], np.r_[other.roc_tpr, 1.0], linewidth=1.5, label=f"{name}  AUC {other.auc:.4f}"
        )
    if others:
        axes.legend(loc="upper left")
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="False accept rate", ylabel="True accept rate", title=title)
    axes.grid(color="0.9")
    accuracy = f"Accuracy {report.accuracy * 100:.2f}%"
    if report.accuracy_std is not None:
        accuracy += f" ± {report.accuracy_std * 100:.2f}"
    summary = "\n".join(
        [
            f"AUC {report.auc:.4f}",
            accuracy,
            f"TAR@FAR=1e-3 {report.tar_at_far_1e3 * 100:.1f}%",
            f"Threshold {report.threshold:.3f}",
            f"{report.pairs} pairs" + (f", {report.folds} folds" if report.folds else ""),
        ]
    )
    axes.text(
        0.97,
        0.05,
        summary,
        transform=axes.transAxes,
        ha="right",
        va="bottom",
        bbox={"facecolor": "white", "edgecolor": "0.6"},
    )
    with open(path, "wb") as out:  # works with non-ASCII paths everywhere
        figure.savefig(out, format="png")
    return path
