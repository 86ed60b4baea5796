"""Engine operations for confusions and the uncertain band (issue 16): the faces a person was shown
for wrongly, and the kiosk's "Are you NAME?" answers.

Engine inherits these. A confusion's vectors are made lazily, per model, from its stored crop (the
same crop format as a sample's), so a model trained later can still score it.
"""

from __future__ import annotations

import numpy as np

from core.app.changes import ChangeKind, Changes
from core.base.records import Confusion


class ConfusionOperations:
    """Mixed into Engine: uses its store, embedder() and _done."""

    def confusions(self, person_id: int | None = None) -> list[Confusion]:
        """Every recorded confusion, or a person's (shown as them, or really them), oldest first."""
        return self.store.confusions(person_id)

    def confusion_crop(self, confusion_id: int) -> bytes | None:
        return self.store.confusion_crop(confusion_id)

    def confusion_vectors(self, model_id: str | None = None) -> dict[int, np.ndarray]:
        """Confusion id -> the model's vector of its face (a fused model: the members' side by side, as
        the matcher scores them). Faces without a vector for a member are embedded first."""
        from core.vision.images import decode_jpeg

        model_id = model_id or self.active_model_id()
        embedder = self.embedder(model_id)
        members = getattr(embedder, "member_ids", None) or (embedder.model_id,)  # fused: each member's own
        per_member = []
        for member in members:
            missing = self.store.confusions_without_vector(member)
            if missing:
                crops = [decode_jpeg(self.store.confusion_crop(cid)) for cid in missing]
                self.store.put_confusion_vectors(member, zip(missing, self.embedder(member).embed(crops)))
            per_member.append(self.store.confusion_vectors(member))
        common = set(per_member[0]).intersection(*per_member[1:])
        return {cid: np.concatenate([vectors[cid] for vectors in per_member]) for cid in sorted(common)}

    def _confusions_changed(self, *person_ids: int | None) -> Changes:
        return Changes.of(ChangeKind.CONFUSIONS, person_ids=[p for p in person_ids if p is not None])
