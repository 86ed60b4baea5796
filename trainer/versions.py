"""Model versions: a trained network saved as a new version (weights file, then its record), activation and
roll back. A saved version is *not* activated; `activate` re-embeds the gallery, then switches atomically."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.app.fusion_setup import keep_fusion
from core.base.cancel import CancelCheck
from core.base.errors import RollcallError
from core.base.records import ModelRecord

from .config import TrainConfig

log = logging.getLogger(__name__)


def new_model_id(now: datetime | None = None) -> str:
    now = now or datetime.now()
    return f"ft-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def save_model_version(
    engine: Any,
    network: Any,
    config: TrainConfig,
    base_record: ModelRecord,
    info: Any,
    before: dict,
    after: dict,
    training: dict,
) -> ModelRecord:
    """Weights file (checksummed, atomic) then the store record; a failure removes the file again."""
    from core.vision.models import BUILTIN_MODELS, write_checked

    cache_dir = Path(engine.registry.cache_dir)
    model_id = new_model_id()
    while (cache_dir / f"{model_id}.pt").exists():
        model_id = new_model_id()
    path = cache_dir / f"{model_id}.pt"
    sidecar = path.with_name(path.name + ".json")
    state = {k: v.detach().cpu().clone() for k, v in network.state_dict().items()}
    created = datetime.now(UTC)
    kind = "trained from scratch" if config.from_scratch else "fine-tuned"
    family = BUILTIN_MODELS.get(base_record.base)
    name = f"{family.title if family else base_record.name} ({kind} {created.astimezone():%Y-%m-%d %H:%M})"
    try:
        write_checked(
            state,
            path,
            {
                "model": model_id,
                "parent": base_record.id,
                "embedding_size": info.embedding_size,
                "preprocessing": info.preprocessing,
            },
        )
        sha256 = json.loads(sidecar.read_text())["sha256"]
        record = ModelRecord(
            id=model_id,
            name=name,
            base=base_record.base,
            parent_id=base_record.id,
            embedding_size=info.embedding_size,
            weights_path=str(path),
            created_at=created,
            settings={
                "sha256": sha256,
                "preprocessing": info.preprocessing,
                "crop_margin": info.crop_margin,
                "train": asdict(config),
            },
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


def activate(engine: Any, model_id: str, cancel: CancelCheck | None = None, progress: Any = None) -> None:
    """Re-embed the whole gallery with `model_id`, then make it the active model (atomic switch)."""
    engine.activate_model(keep_fusion(engine, model_id), cancel=cancel, progress=progress)  # fused stays fused


def roll_back(engine: Any, cancel: CancelCheck | None = None, progress: Any = None) -> str:
    """Activate the parent of the active model; returns the parent's id."""
    current = engine.store.get_model(engine.active_model_id())
    if not current.parent_id:
        raise RollcallError(f"The active model {current.id} has no earlier version to roll back to.")
    activate(engine, current.parent_id, cancel=cancel, progress=progress)
    return current.parent_id
