"""Triplet fine-tuning of the face embedder (FaceNet's method; no Qt).

    from trainer import TrainConfig, training, run_training, activate, roll_back
    run = training(engine, TrainConfig(epochs=3, lfw=True), cancel=stop.is_set)  # a generator
    for progress in run: ...                # TrainProgress: the phase, or the step, loss and triplets
    result = run_training(engine, TrainConfig(), on_progress=print)  # the same, driven in this thread
    if result.saved:
        activate(engine, result.model_id)   # re-embeds the gallery, then switches
    roll_back(engine)                       # back to the active model's parent

Modules: config (TrainConfig, optimizers), data (held-out split, P x K sampler, augmentation), mining
(semihard / hard / all), loss (triplet loss and statistics), network (freezing InceptionResnetV1 stages),
validate (held-out identification/verification, LFW View 1), progress (TrainProgress), results (the
before/after table), job (the training generator), versions (saving, activation, roll back), cli (`rollcall train`).
"""

from .config import Optimizer, TrainConfig
from .job import TrainResult, run_training, training
from .progress import TrainPhase, TrainProgress
from .versions import activate, roll_back

__all__ = [
    "Optimizer",
    "TrainConfig",
    "TrainPhase",
    "TrainProgress",
    "TrainResult",
    "activate",
    "roll_back",
    "run_training",
    "training",
]
