"""One training run: validate, fine-tune with online triplet mining, validate, save a new model version.

`run_training` is a plain blocking function (the GUI runs it in a worker thread, the CLI in the
foreground). It writes nothing until the very end: a cancelled, collapsed or failed run leaves no
weights file and no model record. The new version is *not* activated; `activate` (re-embeds the
gallery, then switches atomically) and `roll_back` (back to the active model's parent) do that.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from core.base.cancel import CancelCheck
from core.app.fusion_setup import facenet_of, keep_fusion
from core.base.errors import Cancelled, InvalidInputError, RollcallError
from core.base.records import ModelRecord

from .data import Augment, Corrections, CropSource, PKSampler, read_corrections, split_samples
from .loss import DEFAULT_MARGIN, batch_loss, distance_spread
from .mining import DEFAULT_STRATEGY, STRATEGIES
from .network import (
    DEFAULT_FROZEN,
    MAX_FROZEN,
    STAGE_NAMES,
    effective_frozen,
    forward_train,
    freeze,
    recalibrate_batchnorm,
    set_train_mode,
)
from .validate import (
    LazyCrops,
    confusion_metrics,
    default_lfw_dir,
    embed_networks,
    held_out_metrics,
    lfw_metrics,
    load_lfw,
    load_prefix_features,
    prefix_key,
    save_prefix_features,
    shared_prefix,
)

log = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda", "mps")
COLLAPSE_SPREAD = 1e-3  # std of the batch's pairwise squared distances
COLLAPSE_DISTANCE = 1e-4  # mean anchor-positive and anchor-negative distance of a collapsed batch
COLLAPSE_PATIENCE = 3  # consecutive collapsed steps before the run is stopped
MAX_CACHED_EVAL_SAMPLES = 1000  # keep frozen-stage features of at most this many gallery crops (~0.3 GB)



@dataclass
class TrainConfig:
    strategy: str = DEFAULT_STRATEGY  # "semihard" | "hard" | "all" (see trainer.mining)
    P: int = 8  # identities per batch
    K: int = 4  # faces per identity (drawn with replacement when a person has fewer)
    margin: float = DEFAULT_MARGIN  # alpha, on squared L2 distances of unit vectors
    learning_rate: float = 1e-4
    optimizer: str = "adam"  # "adam" | "sgd" (momentum 0.9) | "adamw"
    epochs: int = 3
    steps_per_epoch: int | None = None  # None = training samples / (P * K), rounded up
    frozen_blocks: int = DEFAULT_FROZEN  # early stages frozen (see trainer.network; 4 = up to repeat_2)
    held_out_per_person: int = 2  # each person's last samples, used only for validation
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    seed: int = 0
    base_model: str | None = None  # None = the engine's active model
    from_scratch: bool = False  # random initialisation instead of the base model's weights
    lfw: bool = False  # also measure LFW View 1 accuracy before/after (about 1 min on a CPU)
    lfw_dir: str | None = None  # None = trainer.validate.default_lfw_dir()
    augment: bool = True  # flip, small crop/shift and colour jitter
    weight_decay: float = 0.0
    dropout: float | None = 0.2  # before the embedding layer while training (the Keras FaceNet used 0.2)
    with_corrections: bool = False  # confusions as hard negatives, kiosk-confirmed faces as positives
    max_lfw_drop: float = 0.005  # a model losing more LFW View 1 accuracy is flagged (activation asks first)

    def check(self) -> None:
        """Raise InvalidInputError for a value the trainer cannot use."""
        problems = []
        if self.strategy not in STRATEGIES:
            problems.append(f"strategy must be one of {', '.join(STRATEGIES)}")
        if self.optimizer not in OPTIMIZERS:
            problems.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if int(self.P) < 2:
            problems.append("P (identities per batch) must be at least 2")
        if int(self.K) < 2:
            problems.append("K (faces per identity) must be at least 2")
        if not (0 < float(self.margin) <= 4):
            problems.append("margin must be between 0 and 4")
        if not (0 < float(self.learning_rate) < 1):
            problems.append("learning rate must be between 0 and 1")
        if int(self.epochs) < 1:
            problems.append("epochs must be at least 1")
        if self.steps_per_epoch is not None and int(self.steps_per_epoch) < 1:
            problems.append("steps per epoch must be at least 1")
        if not (0 <= int(self.frozen_blocks) <= MAX_FROZEN):
            problems.append(f"frozen blocks must be 0 … {MAX_FROZEN}")
        if int(self.held_out_per_person) < 0:
            problems.append("held-out samples per person cannot be negative")
        if str(self.device).lower().split(":")[0] not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}")
        if self.dropout is not None and not (0 <= float(self.dropout) < 1):
            problems.append("dropout must be between 0 and 1")
        if problems:
            raise InvalidInputError("Training settings: " + "; ".join(problems) + ".")


@dataclass
class TrainProgress:
    epoch: int  # 1-based; 0 outside the training loop
    step: int  # steps done so far (1-based while training)
    total_steps: int
    loss: float
    active_fraction: float
    mean_d_ap: float
    mean_d_an: float
    distance_spread: float
    phase: str = "train"  # "prepare" | "lfw" | "validate" | "train" | "save"
    message: str = ""


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


METRIC_LABELS = {
    "identification_accuracy": "Held-out identification accuracy",
    "verification_accuracy": "Held-out verification accuracy",
    "verification_auc": "Held-out verification AUC",
    "train_triplet_loss": "Training triplet loss (all triplets)",
    "confusion_accuracy": "Recorded confusions told apart",
    "lfw_accuracy": "LFW View 1 accuracy",
    "lfw_auc": "LFW View 1 AUC",
}
NO_VALUE = "—"


@dataclass(frozen=True)
class ResultRow:
    """One metric of the before/after table, as text (the CLI and the Models panel show the same)."""

    label: str
    before: str
    after: str
    change: str


def _metric_text(value, percent: bool, signed: bool = False) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return NO_VALUE
    if percent:
        return f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}%"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def results_rows(before: dict, after: dict) -> list[ResultRow]:
    """The before/after table: one row per measured metric, accuracies in percent."""
    rows = []
    for key, label in METRIC_LABELS.items():
        if key not in before and key not in after:
            continue
        old, new, percent = before.get(key), after.get(key), "accuracy" in key
        change = new - old if isinstance(old, (int, float)) and isinstance(new, (int, float)) else None
        rows.append(ResultRow(label, _metric_text(old, percent), _metric_text(new, percent),
                              _metric_text(change, percent, signed=True)))
    return rows


def new_model_id(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return f"ft-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def _make_optimizer(config: TrainConfig, params):
    import torch

    lr, wd = float(config.learning_rate), float(config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd or 0.01)
    return torch.optim.Adam(params, lr=lr, weight_decay=wd)


def run_training(engine, config: TrainConfig | None = None,
                 on_progress: Callable[[TrainProgress], None] | None = None,
                 cancel: CancelCheck | None = None, network=None) -> TrainResult:
    """Fine-tune (or train from scratch) on the gallery and register the result as a new model version.

    network: train this module instead of the base model's network (tests and experiments; it must
    map (N, 3, 160, 160) float tensors to (N, D) embeddings).
    Raises core.base.errors.Cancelled when `cancel()` turns true (nothing is written), RollcallError
    when the gallery cannot be trained on. A collapsed run returns collapsed=True and saves nothing.
    """
    import torch

    from core.vision.embed import choose_device, preprocess
    from core.vision.keras_facenet import build_network

    config = config or TrainConfig()
    config.check()
    cancelled = cancel or (lambda: False)

    def check_cancel() -> None:
        if cancelled():
            raise Cancelled("Training was cancelled; nothing was saved.")

    def report(progress: TrainProgress) -> None:
        if on_progress:
            on_progress(progress)

    def note(phase: str, message: str, step: int = 0, total: int = 0) -> None:
        report(TrainProgress(0, step, total, math.nan, math.nan, math.nan, math.nan, math.nan, phase, message))

    device = choose_device(config.device)
    base_id = facenet_of(config.base_model or engine.active_model_id())  # a fused model trains its FaceNet
    base_record, info = engine.model_info(base_id)
    warnings: list[str] = []
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)

    note("prepare", "Reading the gallery…")
    split = split_samples(engine.store, config.held_out_per_person)
    corrections = read_corrections(engine.store, set(split.people)) if config.with_corrections else Corrections()
    train = {label: split.train.get(label, []) + corrections.extra_train.get(label, [])
             for label in set(split.train) | set(corrections.extra_train)}
    sampler = PKSampler(train, config.P, config.K, seed=config.seed, pairs=corrections.pairs,
                        faces=corrections.pair_faces)
    source = CropSource(engine.store, split.all_ids())
    for key, jpeg in corrections.faces.items():
        source.add(key, jpeg)
    if config.with_corrections and not corrections.pairs:
        warnings.append("No recorded confusions with a face to learn from; trained as usual.")
    if not split.held_out:
        warnings.append("No person has more than "
                        f"{config.held_out_per_person} photos, so there is nothing to validate on.")
    check_cancel()

    if network is None:
        if config.from_scratch:
            network = build_network(info.embedding_size)
        else:
            network = engine.load_network(base_id)
    network = network.to(torch.device(device))
    if config.dropout is not None and isinstance(getattr(network, "dropout", None), torch.nn.Dropout):
        network.dropout.p = float(config.dropout)
    frozen_blocks = int(config.frozen_blocks)
    if config.from_scratch and frozen_blocks:
        warnings.append("Training from scratch trains every stage; the frozen-blocks setting was ignored.")
        frozen_blocks = 0
    frozen = effective_frozen(network, frozen_blocks)
    params = freeze(network, frozen_blocks)
    if not params:
        raise RollcallError("Nothing to train: every layer is frozen. Lower the number of frozen blocks.")
    base_network = copy.deepcopy(network).eval() if config.lfw else None  # "before", for LFW at the end

    lfw = None
    if config.lfw:
        lfw_dir = Path(config.lfw_dir) if config.lfw_dir else default_lfw_dir()
        if lfw_dir is None or not (lfw_dir / "pairsDevTest.txt").exists():
            warnings.append("LFW View 1 was not found (set ROLLCALL_LFW_DIR); the forgetting check was skipped.")
        else:
            note("lfw", "Preparing LFW View 1 face crops…")
            lfw = load_lfw(lfw_dir, engine.registry.cache_dir, info.crop_margin, device,
                           detector=None, cancel=cancelled,
                           progress=lambda d, t: note("lfw", f"Detecting LFW faces {d}/{t}", d, t))

    all_ids = split.all_ids() + [key for key, _, _ in corrections.confusions]
    eval_crops = LazyCrops(source.crops, all_ids)

    # The frozen stages give the same features before and after training: keep them for small galleries.
    prefix_cache: list | None = [] if frozen and len(all_ids) <= MAX_CACHED_EVAL_SAMPLES else None

    def held_out(net) -> dict:
        vectors = embed_networks({"net": net}, eval_crops, info.preprocessing, device,
                                 shared_stages=frozen if prefix_cache is not None else 0,
                                 cancel=cancelled, prefix_cache=prefix_cache)["net"]
        by_id = dict(zip(all_ids, vectors))
        metrics = held_out_metrics(by_id, split, config.margin, config.seed)
        if corrections.confusions:
            metrics.update(confusion_metrics(by_id, split, corrections.confusions))
        return metrics

    note("validate", "Validating the base model…")
    before = held_out(network)
    check_cancel()

    # ---- training loop ----
    steps_per_epoch = int(config.steps_per_epoch or max(1, math.ceil(split.train_count() / sampler.batch_size)))
    total_steps = steps_per_epoch * int(config.epochs)
    optimizer = _make_optimizer(config, params)
    augment = Augment() if config.augment else None
    history: list[TrainProgress] = []
    collapsed_steps = 0
    collapse_message = ""
    step = 0
    started = time.perf_counter()
    set_train_mode(network, frozen_blocks)
    for epoch in range(1, int(config.epochs) + 1):
        for _ in range(steps_per_epoch):
            check_cancel()
            ids, labels = sampler.batch()
            crops = source.crops(ids)
            if augment is not None:
                crops = augment(crops, rng)
            x = torch.from_numpy(preprocess(crops, info.preprocessing)).to(device)
            embeddings = forward_train(network, x, frozen_blocks)
            loss, stats, _ = batch_loss(embeddings, torch.from_numpy(labels).to(device), config.strategy, config.margin)
            spread = distance_spread(embeddings)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            progress = TrainProgress(epoch, step, total_steps, stats.loss, stats.active_fraction,
                                     stats.mean_d_ap, stats.mean_d_an, spread)
            history.append(progress)
            report(progress)

            flat = (abs(stats.loss - config.margin) < 1e-6 and stats.mean_d_ap < COLLAPSE_DISTANCE
                    and stats.mean_d_an < COLLAPSE_DISTANCE)
            collapsed_steps = collapsed_steps + 1 if (spread < COLLAPSE_SPREAD or flat) else 0
            if not math.isfinite(stats.loss):
                collapse_message = (f"Training stopped at step {step}: the loss became {stats.loss} (diverged). "
                                    "Nothing was saved. Lower the learning rate.")
            elif collapsed_steps >= COLLAPSE_PATIENCE:
                collapse_message = (
                    f"Training stopped at step {step}: the model collapsed (every face embedded at almost "
                    f"the same point; distance spread {spread:.2e} for {collapsed_steps} steps, loss {stats.loss:.3f} "
                    f"= margin). Nothing was saved. Use 'semihard' mining, a lower learning rate or more "
                    "frozen blocks.")
            if collapse_message:
                break
        if collapse_message:
            break
    train_seconds = time.perf_counter() - started
    epochs_run = step / steps_per_epoch if steps_per_epoch else 0
    seconds_per_epoch = train_seconds / epochs_run if epochs_run else 0.0
    network.eval()

    if config.from_scratch and not collapse_message:
        check_cancel()
        note("validate", "Recomputing BatchNorm statistics…")
        train_ids = [sid for pid in split.people for sid in split.train[pid]]
        chunks = [train_ids[i:i + sampler.batch_size] for i in range(0, len(train_ids), sampler.batch_size)]
        if len(chunks) > 1 and len(chunks[-1]) < 2:
            chunks[-2].extend(chunks.pop())
        recalibrate_batchnorm(
            network, (torch.from_numpy(preprocess(source.crops(c), info.preprocessing)).to(device) for c in chunks),
            frozen_blocks)

    if collapse_message:
        log.warning(collapse_message)
        return TrainResult(config, None, None, before, {}, history, True, collapse_message, step,
                           train_seconds, seconds_per_epoch, device, warnings)

    note("validate", "Validating the trained model…")
    after = held_out(network)
    prefix_cache = None
    if lfw is not None:
        note("validate", "Measuring LFW View 1 before and after…")
        nets = {"before": base_network, "after": network}
        shared = shared_prefix(nets, frozen)
        key = prefix_key(base_network, shared, info.preprocessing, lfw) if shared else ""
        cached = load_prefix_features(engine.registry.cache_dir, key, device=device) if shared else None
        features = cached if cached is not None else []
        vectors = embed_networks(nets, lfw.crops(), info.preprocessing, device, shared_stages=shared,
                                 cancel=cancelled, prefix_cache=features, round_prefix=True)
        if shared and cached is None:
            save_prefix_features(engine.registry.cache_dir, key, features)
        del features, cached
        before.update(lfw_metrics(vectors["before"], lfw))
        after.update(lfw_metrics(vectors["after"], lfw))
        if lfw.fallbacks:
            warnings.append(f"LFW: no face found in {lfw.fallbacks} photos; their centre was used.")
    check_cancel()

    flagged = ""
    lost = (before.get("lfw_accuracy") or 0.0) - (after.get("lfw_accuracy") or 0.0)
    if "lfw_accuracy" in after and lost > config.max_lfw_drop:
        flagged = (f"It lost {lost * 100:.2f} points of LFW View 1 accuracy (more than "
                   f"{config.max_lfw_drop * 100:.2f}): it may have forgotten faces it has not seen.")
    note("save", "Saving the new model version…")
    training = {"steps": step, "seconds": round(train_seconds, 3), "seconds_per_epoch": round(seconds_per_epoch, 3),
                "device": device, "first_loss": history[0].loss if history else None,
                "last_loss": history[-1].loss if history else None,
                "frozen_stages": list(STAGE_NAMES[:frozen]), "flagged": flagged,
                "confused_pairs": [list(p) for p in corrections.pairs]}
    record = _save_model(engine, network, config, base_record, info, before, after, training)
    message = f"Saved {record.id}: {record.name}. Activate it to use it for recognition."
    if flagged:
        message += f" Flagged: {flagged}"
    return TrainResult(config, record.id, record, before, after, history, False, message, step,
                       train_seconds, seconds_per_epoch, device, warnings, flagged)


def _save_model(engine, network, config: TrainConfig, base_record: ModelRecord, info, before: dict, after: dict,
                training: dict) -> ModelRecord:
    """Weights file (checksummed, atomic) then the store record; a failure removes the file again."""
    from core.vision.models import BUILTIN_MODELS, write_checked

    cache_dir = Path(engine.registry.cache_dir)
    model_id = new_model_id()
    while (cache_dir / f"{model_id}.pt").exists():
        model_id = new_model_id()
    path = cache_dir / f"{model_id}.pt"
    sidecar = path.with_name(path.name + ".json")
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    created = datetime.now(timezone.utc)
    kind = "trained from scratch" if config.from_scratch else "fine-tuned"
    family = BUILTIN_MODELS.get(base_record.base)
    name = f"{family.title if family else base_record.name} ({kind} {created.astimezone():%Y-%m-%d %H:%M})"
    try:
        write_checked(state, path, {"model": model_id, "parent": base_record.id, "embedding_size": info.embedding_size,
                                    "preprocessing": info.preprocessing})
        sha256 = json.loads(sidecar.read_text())["sha256"]
        record = ModelRecord(
            id=model_id, name=name, base=base_record.base, parent_id=base_record.id,
            embedding_size=info.embedding_size, weights_path=str(path), created_at=created,
            settings={"sha256": sha256, "preprocessing": info.preprocessing, "crop_margin": info.crop_margin,
                      "train": asdict(config)},
            metrics={"before": before, "after": after, "training": training},
        )
        registered = engine.register_model(record).value
    except BaseException:
        for leftover in (path, sidecar, path.with_name(path.name + ".tmp")):
            leftover.unlink(missing_ok=True)
        raise
    try:  # the ONNX file CPU inference runs from, made once here
        engine.export_onnx(registered.id)
    except Exception as exc:  # noqa: BLE001 - the model is saved; `rollcall models export-onnx` can retry
        log.warning("Could not export %s to ONNX (%s); run `rollcall models export-onnx`.", registered.id, exc)
    try:  # on a site's admin station its files go to the server, for every kiosk
        engine.publish_model(registered.id)
    except Exception as exc:  # noqa: BLE001 - the model is saved; activating it sends the files again
        log.warning("Could not send %s's files to the site server (%s).", registered.id, exc)
    return registered


# ---- activation ----------------------------------------------------------------------------------


def activate(engine, model_id: str, cancel: CancelCheck | None = None, progress=None) -> None:
    """Re-embed the whole gallery with `model_id`, then make it the active model (atomic switch)."""
    engine.activate_model(keep_fusion(engine, model_id), cancel=cancel, progress=progress)  # fused stays fused


def roll_back(engine, cancel: CancelCheck | None = None, progress=None) -> str:
    """Activate the parent of the active model; returns the parent's id."""
    current = engine.store.get_model(engine.active_model_id())
    if not current.parent_id:
        raise RollcallError(f"The active model {current.id} has no earlier version to roll back to.")
    activate(engine, current.parent_id, cancel=cancel, progress=progress)
    return current.parent_id
