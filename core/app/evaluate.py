"""Face verification metrics following the LFW protocol (pure numpy; drawing with OpenCV).

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

import cv2
import numpy as np

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
    """ROC points (fpr, tpr, thresholds) from the strictest threshold to the loosest.

    Point k means "same if similarity >= thresholds[k]"; the first point (0, 0) has threshold +inf.
    """
    scores, labels = _check_inputs(similarities, same)
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    true_accepts = np.cumsum(labels)
    false_accepts = np.cumsum(~labels)
    last_of_value = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # one point per distinct score
    tpr = np.r_[0.0, true_accepts[last_of_value] / max(labels.sum(), 1)]
    fpr = np.r_[0.0, false_accepts[last_of_value] / max((~labels).sum(), 1)]
    thresholds = np.r_[np.inf, scores[last_of_value]]
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


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    integrate = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 only has trapz
    return float(integrate(y, x))


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
    if len(distinct_folds) >= 2:
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
        auc=_trapezoid(tpr, fpr),
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


# ROC plot (OpenCV: matplotlib is not a dependency) ---------------------------------------------

_WHITE, _BLACK, _GREY, _LIGHT = (255, 255, 255), (30, 30, 30), (150, 150, 150), (225, 225, 225)
CURVE_COLOR = (200, 90, 20)  # BGR: a strong blue
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _centered_text(canvas: np.ndarray, text: str, center_x: int, baseline_y: int, scale: float, thickness: int = 1) -> None:
    (width, _), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    cv2.putText(canvas, text, (center_x - width // 2, baseline_y), _FONT, scale, _BLACK, thickness, cv2.LINE_AA)


OTHER_COLORS = ((40, 160, 40), (40, 40, 210), (160, 40, 160))  # BGR: green, red, purple


def render_roc(report: VerificationReport, title: str, size: int = 600,
               others: tuple[tuple[str, VerificationReport], ...] = (), main_name: str = "") -> np.ndarray:
    """The ROC curve as a BGR image: axes, ticks 0..1, diagonal, curve and a summary box.

    others: more (name, report) curves on the same axes, with a legend (`main_name` names the main one);
    the summary box describes the main report."""
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    left, right, top, bottom = 80, size - 30, 60, size - 70
    plot_w, plot_h = right - left, bottom - top

    def to_px(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (left + np.asarray(x) * plot_w).round().astype(np.int32), (bottom - np.asarray(y) * plot_h).round().astype(np.int32)

    for tick in np.linspace(0, 1, 6):  # grid, ticks and tick labels
        px, py = to_px(tick, tick)
        cv2.line(canvas, (int(px), top), (int(px), bottom), _LIGHT, 1)
        cv2.line(canvas, (left, int(py)), (right, int(py)), _LIGHT, 1)
        cv2.line(canvas, (int(px), bottom), (int(px), bottom + 6), _BLACK, 1)
        cv2.line(canvas, (left - 6, int(py)), (left, int(py)), _BLACK, 1)
        label = f"{tick:.1f}"
        _centered_text(canvas, label, int(px), bottom + 24, 0.5)
        (width, height), _ = cv2.getTextSize(label, _FONT, 0.5, 1)
        cv2.putText(canvas, label, (left - 10 - width, int(py) + height // 2), _FONT, 0.5, _BLACK, 1, cv2.LINE_AA)

    for start in np.arange(0.0, 1.0, 0.04):  # dashed chance diagonal
        (x1, x2), (y1, y2) = to_px(np.array([start, start + 0.02]), np.array([start, start + 0.02]))
        cv2.line(canvas, (int(x1), int(y1)), (int(x2), int(y2)), _GREY, 1, cv2.LINE_AA)

    cv2.rectangle(canvas, (left, top), (right, bottom), _BLACK, 1)
    xs, ys = to_px(np.r_[report.roc_fpr, 1.0], np.r_[report.roc_tpr, 1.0])
    cv2.polylines(canvas, [np.stack([xs, ys], axis=1).reshape(-1, 1, 2)], False, CURVE_COLOR, 2, cv2.LINE_AA)
    for row, (name, other) in enumerate(((main_name, report), *others) if others else ()):
        color = CURVE_COLOR if row == 0 else OTHER_COLORS[(row - 1) % len(OTHER_COLORS)]
        if row:
            ox, oy = to_px(np.r_[other.roc_fpr, 1.0], np.r_[other.roc_tpr, 1.0])
            cv2.polylines(canvas, [np.stack([ox, oy], axis=1).reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        y = top + 22 + 22 * row
        cv2.line(canvas, (left + 12, y - 5), (left + 40, y - 5), color, 3)
        cv2.putText(canvas, f"{name}  AUC {other.auc:.4f}", (left + 48, y), _FONT, 0.45, _BLACK, 1, cv2.LINE_AA)

    _centered_text(canvas, title, size // 2, 35, 0.7, 2)
    _centered_text(canvas, "False accept rate", (left + right) // 2, size - 22, 0.6)
    y_label = np.full((30, plot_h, 3), 255, dtype=np.uint8)
    _centered_text(y_label, "True accept rate", plot_h // 2, 21, 0.6)
    canvas[top:bottom, 12:42] = cv2.rotate(y_label, cv2.ROTATE_90_COUNTERCLOCKWISE)

    accuracy = f"Accuracy {report.accuracy * 100:.2f}%"
    if report.accuracy_std is not None:
        accuracy += f" +/- {report.accuracy_std * 100:.2f}"
    lines = [
        f"AUC {report.auc:.4f}",
        accuracy,
        f"TAR@FAR=1e-3 {report.tar_at_far_1e3 * 100:.1f}%",
        f"Threshold {report.threshold:.3f}",
        f"{report.pairs} pairs" + (f", {report.folds} folds" if report.folds else ""),
    ]
    box_left, box_top = left + plot_w // 2 - 20, bottom - 20 - 24 * len(lines)
    cv2.rectangle(canvas, (box_left - 8, box_top - 6), (right - 8, bottom - 12), _WHITE, -1)
    cv2.rectangle(canvas, (box_left - 8, box_top - 6), (right - 8, bottom - 12), _GREY, 1)
    for row, line in enumerate(lines):
        cv2.putText(canvas, line, (box_left, box_top + 18 + 24 * row), _FONT, 0.5, _BLACK, 1, cv2.LINE_AA)
    return canvas


def save_roc_plot(report: VerificationReport, path: Path, title: str,
                  others: tuple[tuple[str, VerificationReport], ...] = (), main_name: str = "") -> Path:
    """Write the ROC curve (and `others` on the same axes) as a ~600x600 PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", render_roc(report, title, others=others, main_name=main_name))
    if not ok:
        raise OSError(f"Could not encode the ROC plot for {path}.")
    path.write_bytes(encoded.tobytes())  # works with non-ASCII paths, unlike cv2.imwrite on Windows
    return path
