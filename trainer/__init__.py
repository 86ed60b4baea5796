"""Triplet fine-tuning of the face embedder (FaceNet's method; no Qt).

    from trainer import TrainConfig, run_training, activate, roll_back
    result = run_training(engine, TrainConfig(epochs=3, lfw=True), on_progress=print)
    if result.saved:
        activate(engine, result.model_id)   # re-embeds the gallery, then switches
    roll_back(engine)                       # back to the active model's parent

Modules: data (held-out split, P x K sampler, augmentation), mining (semihard / hard / all),
loss (triplet loss and statistics), network (freezing InceptionResnetV1 stages), validate
(held-out identification/verification, LFW View 1), job (run_training), cli (`rollcall train`).
"""

from .job import TrainConfig, TrainProgress, TrainResult, activate, roll_back, run_training

__all__ = ["TrainConfig", "TrainProgress", "TrainResult", "activate", "roll_back", "run_training"]
