"""One training run: validate, fine-tune with online triplet mining, validate, save a new model version.

`training` is a generator: it yields a TrainProgress for every phase and step and returns the TrainResult.
The GUI runs it in a worker thread (gui.workers.Job), the CLI drives it in the foreground; `run_training`
drives it to its end with an optional callback. It stops with Cancelled when `cancel()` turns true, and
stops as well when closed between two yields. It writes nothing until the very end: a cancelled,
collapsed or failed run leaves no weights file and no model record. The settings live in trainer.config,
saving, activation and roll back in trainer.versions.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.app.fusion_setup import facenet_of
from core.base.cancel import CancelCheck
from core.base.errors import Cancelled, RollcallError
from core.base.records import ModelRecord

from .config import Optimizer, TrainConfig, make_optimizer
from .data import Augment, Corrections, CropSource, PKSampler, Split, read_corrections, split_samples
from .lfw_vectors import base_vectors_key, load_base_vectors, save_base_vectors
from .loss import batch_loss, distance_spread
from .network import (
    STAGE_NAMES,
    effective_frozen,
    forward_train,
    freeze,
    recalibrate_batchnorm,
    set_train_mode,
)
from .progress import TrainPhase, TrainProgress, drive, phase_note
from .results import ResultRow, results_rows
from .validate import (
    LazyCrops,
    LfwSet,
    confusion_metrics,
    default_lfw_dir,
    embed_networks,
    held_out_metrics,
    lfw_loading,
    lfw_metrics,
    load_prefix_features,
    prefix_key,
    save_prefix_features,
    shared_prefix,
)
from .versions import activate, roll_back, save_model_version

__all__ = [
    "COLLAPSE_PATIENCE",
    "Optimizer",
    "TrainConfig",
    "TrainPhase",
    "TrainProgress",
    "TrainResult",
    "TrainingRun",
    "activate",
    "roll_back",
    "run_training",
    "training",
]

log = logging.getLogger(__name__)

COLLAPSE_SPREAD = 1e-3  # std of the batch's pairwise squared distances
COLLAPSE_DISTANCE = 1e-4  # mean anchor-positive and anchor-negative distance of a collapsed batch
COLLAPSE_PATIENCE = 3  # consecutive collapsed steps before the run is stopped
MAX_CACHED_EVAL_SAMPLES = 1000  # keep frozen-stage features of at most this many gallery crops (~0.3 GB)
LOSS_TOLERANCE = 1e-6  # a loss this close to the margin is flat
CANCELLED = "Training was cancelled; nothing was saved."


@dataclass
class TrainResult:
    config: TrainConfig
    model_id: str | None  # None when nothing was saved (collapsed)
    record: ModelRecord | None
    before: dict
    after: dict
    history: list[TrainProgress] = field(default_factory=list)
    collapsed: bool = False
    message: str = ""
    steps: int = 0
    train_seconds: float = 0.0
    seconds_per_epoch: float = 0.0
    device: str = "cpu"
    warnings: list[str] = field(default_factory=list)
    flagged: str = ""  # why the model should not be activated without confirmation ("" = nothing)

    @property
    def saved(self) -> bool:
        return self.model_id is not None

    def results(self) -> list[ResultRow]:
        return results_rows(self.before, self.after)


TrainingRun = Generator[TrainProgress, None, TrainResult]


@dataclass
class _Run:
    """What one run works on, gathered before its first step."""

    config: TrainConfig
    device: str
    base_record: ModelRecord
    info: Any  # the base model's EmbedderInfo
    cancelled: CancelCheck
    split: Split
    corrections: Corrections
    sampler: PKSampler
    source: CropSource
    network: Any = None
    frozen_blocks: int = 0
    frozen: int = 0  # stages actually frozen
    params: list = field(default_factory=list)
    base_network: Any = None  # the untrained copy, for the LFW check at the end
    warnings: list[str] = field(default_factory=list)

    def check_cancel(self) -> None:
        if self.cancelled():
            raise Cancelled(CANCELLED)


@dataclass
class _Steps:
    """What the training loop did."""

    history: list[TrainProgress]
    step: int
    steps_per_epoch: int
    train_seconds: float
    collapse_message: str

    @property
    def seconds_per_epoch(self) -> float:
        epochs_run = self.step / self.steps_per_epoch if self.steps_per_epoch else 0
        return self.train_seconds / epochs_run if epochs_run else 0.0


def run_training(
    engine: Any,
    config: TrainConfig | None = None,
    on_progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelCheck | None = None,
    network: Any = None,
) -> TrainResult:
    """Drive `training` to its end in this thread, handing each TrainProgress to `on_progress`."""
    return drive(training(engine, config, cancel=cancel, network=network), on_progress)


def training(
    engine: Any, config: TrainConfig | None = None, cancel: CancelCheck | None = None, network: Any = None
) -> TrainingRun:
    """Fine-tune (or train from scratch) on the gallery and register the result as a new model version.

    network: train this module instead of the base model's network (tests and experiments; it must
    map (N, 3, 160, 160) float tensors to (N, D) embeddings).
    Raises core.base.errors.Cancelled when `cancel()` turns true (nothing is written), RollcallError
    when the gallery cannot be trained on. A collapsed run returns collapsed=True and saves nothing.
    """
    config = config or TrainConfig()
    config.check()
    run = yield from _prepare(engine, config, cancel or _never, network)
    lfw = yield from _lfw_set(engine, run)
    held_out = _HeldOutCheck(run)

    yield phase_note(TrainPhase.VALIDATE, "Validating the base model…")
    before = held_out(run.network)
    run.check_cancel()

    steps = yield from _train_steps(run)
    if config.from_scratch and not steps.collapse_message:
        run.check_cancel()
        yield phase_note(TrainPhase.VALIDATE, "Recomputing BatchNorm statistics…")
        _recalibrate(run)
    if steps.collapse_message:
        log.warning(steps.collapse_message)
        return TrainResult(
            config,
            None,
            None,
            before,
            {},
            steps.history,
            True,
            steps.collapse_message,
            steps.step,
            steps.train_seconds,
            steps.seconds_per_epoch,
            run.device,
            run.warnings,
        )

    yield phase_note(TrainPhase.VALIDATE, "Validating the trained model…")
    after = held_out(run.network)
    held_out.release()
    if lfw is not None:
        yield phase_note(TrainPhase.VALIDATE, "Measuring LFW View 1 before and after…")
        _measure_lfw(engine, run, lfw, before, after)
    run.check_cancel()

    flagged = _forgetting(config, before, after)
    yield phase_note(TrainPhase.SAVE, "Saving the new model version…")
    record = save_model_version(
        engine, run.network, config, run.base_record, run.info, before, after, _training_summary(run, steps, flagged)
    )
    message = f"Saved {record.id}: {record.name}. Activate it to use it for recognition."
    if flagged:
        message += f" Flagged: {flagged}"
    return TrainResult(
        config,
        record.id,
        record,
        before,
        after,
        steps.history,
        False,
        message,
        steps.step,
        steps.train_seconds,
        steps.seconds_per_epoch,
        run.device,
        run.warnings,
        flagged,
    )


def _never() -> bool:
    return False


# ---- before the first step ----


def _prepare(
    engine: Any, config: TrainConfig, cancelled: CancelCheck, network: Any
) -> Generator[TrainProgress, None, _Run]:
    """The gallery split, batches and crops, then the network to train (seeded, partly frozen)."""
    import torch

    from core.vision.runtime import choose_device

    device = choose_device(config.device)
    base_id = facenet_of(config.base_model or engine.active_model_id())  # a fused model trains its FaceNet
    base_record, info = engine.model_info(base_id)
    torch.manual_seed(config.seed)

    yield phase_note(TrainPhase.PREPARE, "Reading the gallery…")
    split = split_samples(engine.store, config.held_out_per_person)
    corrections = read_corrections(engine.store, set(split.people)) if config.with_corrections else Corrections()
    train = {
        label: split.train.get(label, []) + corrections.extra_train.get(label, [])
        for label in set(split.train) | set(corrections.extra_train)
    }
    sampler = PKSampler(
        train, config.P, config.K, seed=config.seed, pairs=corrections.pairs, faces=corrections.pair_faces
    )
    source = CropSource(engine.store, split.all_ids())
    for key, jpeg in corrections.faces.items():
        source.add(key, jpeg)
    run = _Run(config, device, base_record, info, cancelled, split, corrections, sampler, source)
    if config.with_corrections and not corrections.pairs:
        run.warnings.append("No recorded confusions with a face to learn from; trained as usual.")
    if not split.held_out:
        run.warnings.append(
            f"No person has more than {config.held_out_per_person} photos, so there is nothing to validate on."
        )
    run.check_cancel()
    _prepare_network(engine, run, base_id, network)
    return run


def _prepare_network(engine: Any, run: _Run, base_id: str, network: Any) -> None:
    import torch

    from core.vision.keras_facenet import build_network

    config = run.config
    if network is None:
        network = build_network(run.info.embedding_size) if config.from_scratch else engine.load_network(base_id)
    network = network.to(torch.device(run.device))
    if config.dropout is not None and isinstance(getattr(network, "dropout", None), torch.nn.Dropout):
        network.dropout.p = float(config.dropout)
    frozen_blocks = int(config.frozen_blocks)
    if config.from_scratch and frozen_blocks:
        run.warnings.append("Training from scratch trains every stage; the frozen-blocks setting was ignored.")
        frozen_blocks = 0
    run.network, run.frozen_blocks = network, frozen_blocks
    run.frozen = effective_frozen(network, frozen_blocks)
    run.params = freeze(network, frozen_blocks)
    if not run.params:
        raise RollcallError("Nothing to train: every layer is frozen. Lower the number of frozen blocks.")
    run.base_network = copy.deepcopy(network).eval() if config.lfw else None


def _lfw_set(engine: Any, run: _Run) -> Generator[TrainProgress, None, LfwSet | None]:
    """LFW View 1's crops when the config asks for the forgetting check and they are found, else None."""
    if not run.config.lfw:
        return None
    lfw_dir = Path(run.config.lfw_dir) if run.config.lfw_dir else default_lfw_dir()
    if lfw_dir is None or not (lfw_dir / "pairsDevTest.txt").exists():
        run.warnings.append("LFW View 1 was not found (set ROLLCALL_LFW_DIR); the forgetting check was skipped.")
        return None
    yield phase_note(TrainPhase.LFW, "Preparing LFW View 1 face crops…")
    loading = lfw_loading(
        lfw_dir, engine.registry.cache_dir, run.info.crop_margin, run.device, detector=None, cancel=run.cancelled
    )
    while True:
        try:
            done, total = next(loading)
        except StopIteration as loaded:
            return loaded.value
        yield phase_note(TrainPhase.LFW, f"Detecting LFW faces {done}/{total}", done, total)


class _HeldOutCheck:
    """Held-out (and confusion) metrics of a network; the frozen stages' features are computed once."""

    def __init__(self, run: _Run):
        self.run = run
        self.ids = run.split.all_ids() + [key for key, _, _ in run.corrections.confusions]
        self.crops = LazyCrops(run.source.crops, self.ids)
        # The frozen stages give the same features before and after training: keep them for small galleries.
        self.prefix_cache: list | None = [] if run.frozen and len(self.ids) <= MAX_CACHED_EVAL_SAMPLES else None

    def __call__(self, network: Any) -> dict:
        run = self.run
        vectors = embed_networks(
            {"net": network},
            self.crops,
            run.info.preprocessing,
            run.device,
            shared_stages=run.frozen if self.prefix_cache is not None else 0,
            cancel=run.cancelled,
            prefix_cache=self.prefix_cache,
        )["net"]
        by_id = dict(zip(self.ids, vectors, strict=True))
        metrics = held_out_metrics(by_id, run.split, run.config.margin, run.config.seed)
        if run.corrections.confusions:
            metrics.update(confusion_metrics(by_id, run.split, run.corrections.confusions))
        return metrics

    def release(self) -> None:
        self.prefix_cache = None


# ---- the training loop ----


def _train_steps(run: _Run) -> Generator[TrainProgress, None, _Steps]:
    """Every optimizer step, each reported; stops early when the model collapses or the loss diverges."""
    import torch

    from core.vision.embed import preprocess

    config, device = run.config, run.device
    steps_per_epoch = int(config.steps_per_epoch or max(1, math.ceil(run.split.train_count() / run.sampler.batch_size)))
    total_steps = steps_per_epoch * int(config.epochs)
    optimizer = make_optimizer(config, run.params)
    augment = Augment() if config.augment else None
    rng = np.random.default_rng(config.seed)
    steps = _Steps([], 0, steps_per_epoch, 0.0, "")
    collapsed_steps = 0
    started = time.perf_counter()
    set_train_mode(run.network, run.frozen_blocks)
    for epoch in range(1, int(config.epochs) + 1):
        for _ in range(steps_per_epoch):
            run.check_cancel()
            ids, labels = run.sampler.batch()
            crops = run.source.crops(ids)
            if augment is not None:
                crops = augment(crops, rng)
            x = torch.from_numpy(preprocess(crops, run.info.preprocessing)).to(device)
            embeddings = forward_train(run.network, x, run.frozen_blocks)
            loss, stats, _ = batch_loss(embeddings, torch.from_numpy(labels).to(device), config.strategy, config.margin)
            spread = distance_spread(embeddings)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps.step += 1
            progress = TrainProgress(
                epoch,
                steps.step,
                total_steps,
                stats.loss,
                stats.active_fraction,
                stats.mean_d_ap,
                stats.mean_d_an,
                spread,
            )
            steps.history.append(progress)
            yield progress

            flat = (
                abs(stats.loss - config.margin) < LOSS_TOLERANCE
                and stats.mean_d_ap < COLLAPSE_DISTANCE
                and stats.mean_d_an < COLLAPSE_DISTANCE
            )
            collapsed_steps = collapsed_steps + 1 if (spread < COLLAPSE_SPREAD or flat) else 0
            steps.collapse_message = _collapse_message(steps.step, stats.loss, spread, collapsed_steps)
            if steps.collapse_message:
                break
        if steps.collapse_message:
            break
    steps.train_seconds = time.perf_counter() - started
    run.network.eval()
    return steps


def _collapse_message(step: int, loss: float, spread: float, collapsed_steps: int) -> str:
    """Why the run must stop now ("" while it may go on)."""
    if not math.isfinite(loss):
        return (
            f"Training stopped at step {step}: the loss became {loss} (diverged). "
            "Nothing was saved. Lower the learning rate."
        )
    if collapsed_steps >= COLLAPSE_PATIENCE:
        return (
            f"Training stopped at step {step}: the model collapsed (every face embedded at almost "
            f"the same point; distance spread {spread:.2e} for {collapsed_steps} steps, loss {loss:.3f} "
            "= margin). Nothing was saved. Use 'semihard' mining, a lower learning rate or more "
            "frozen blocks."
        )
    return ""


def _recalibrate(run: _Run) -> None:
    """BatchNorm statistics of a network trained from scratch, recomputed on the training photos."""
    import torch

    from core.vision.embed import preprocess

    batch_size = run.sampler.batch_size
    train_ids = [sid for pid in run.split.people for sid in run.split.train[pid]]
    chunks = [train_ids[i : i + batch_size] for i in range(0, len(train_ids), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks[-2].extend(chunks.pop())
    batches = (torch.from_numpy(preprocess(run.source.crops(c), run.info.preprocessing)).to(run.device) for c in chunks)
    recalibrate_batchnorm(run.network, batches, run.frozen_blocks)


# ---- after the last step ----


def _measure_lfw(engine: Any, run: _Run, lfw: LfwSet, before: dict, after: dict) -> None:
    """LFW View 1 metrics of the network before and after training, added to `before` and `after`.
    The base's vectors come from the disk cache when an earlier run from the same base measured them."""
    preprocessing, device, cache_dir = run.info.preprocessing, run.device, engine.registry.cache_dir
    shared = shared_prefix({"before": run.base_network, "after": run.network}, run.frozen)
    base_key = base_vectors_key(run.base_network, shared, preprocessing, lfw)
    base_vectors = load_base_vectors(cache_dir, base_key, len(lfw.jpegs))
    nets = {"after": run.network} if base_vectors is not None else {"before": run.base_network, "after": run.network}
    key = prefix_key(run.base_network, shared, preprocessing, lfw) if shared else ""
    cached = load_prefix_features(cache_dir, key, device=device) if shared else None
    features = cached if cached is not None else []
    vectors = embed_networks(
        nets,
        lfw.crops(),
        preprocessing,
        device,
        shared_stages=shared,
        cancel=run.cancelled,
        prefix_cache=features,
        round_prefix=True,
    )
    if shared and cached is None:
        save_prefix_features(cache_dir, key, features)
    del features, cached
    if base_vectors is None:
        base_vectors = vectors["before"]
        save_base_vectors(cache_dir, base_key, base_vectors)
    before.update(lfw_metrics(base_vectors, lfw))
    after.update(lfw_metrics(vectors["after"], lfw))
    if lfw.fallbacks:
        run.warnings.append(f"LFW: no face found in {lfw.fallbacks} photos; their centre was used.")


def _forgetting(config: TrainConfig, before: dict, after: dict) -> str:
    """Why the new model should not be activated without asking ("" when it kept its LFW accuracy)."""
    lost = (before.get("lfw_accuracy") or 0.0) - (after.get("lfw_accuracy") or 0.0)
    if "lfw_accuracy" in after and lost > config.max_lfw_drop:
        return (
            f"It lost {lost * 100:.2f} points of LFW View 1 accuracy (more than "
            f"{config.max_lfw_drop * 100:.2f}): it may have forgotten faces it has not seen."
        )
    return ""


def _training_summary(run: _Run, steps: _Steps, flagged: str) -> dict:
    """How the version was trained, kept in its record's metrics."""
    history = steps.history
    return {
        "steps": steps.step,
        "seconds": round(steps.train_seconds, 3),
        "seconds_per_epoch": round(steps.seconds_per_epoch, 3),
        "device": run.device,
        "first_loss": history[0].loss if history else None,
        "last_loss": history[-1].loss if history else None,
        "frozen_stages": list(STAGE_NAMES[: run.frozen]),
        "flagged": flagged,
        "confused_pairs": [list(p) for p in run.corrections.pairs],
    }
