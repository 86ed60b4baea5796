"""Engine operations for confusions and the uncertain band (issue 16): the faces a person was shown
for wrongly, and the kiosk's "Are you NAME?" answers.

Engine inherits these. A confusion's vectors are made lazily, per model, from its stored crop (the
same crop format as a sample's), so a model trained later can still score it.
"""

from __future__ import annotations

import numpy as np

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.attendance.book import AttendanceBook
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent, ConfirmedSample, Confusion, ConfusionSource
from core.live.uncertain import UncertainAnswer, UncertainQuestion


class ConfusionOperations(EngineState):
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
                self.store.put_confusion_vectors(member, zip(missing, self.embedder(member).embed(crops), strict=True))
            per_member.append(self.store.confusion_vectors(member))
        common = set(per_member[0]).intersection(*per_member[1:])
        return {cid: np.concatenate([vectors[cid] for vectors in per_member]) for cid in sorted(common)}

    # ---- the kiosk's "Are you NAME?" ----

    @staticmethod
    def _answer(question: UncertainQuestion, answer: UncertainAnswer) -> None:
        if question.answered:
            raise InvalidInputError(f"The question to track {question.track_id} was answered already.")
        question.answer = answer  # the recognizer stops asking

    def confirm_uncertain(
        self, question: UncertainQuestion
    ) -> Outcome[tuple[AttendanceEvent | None, ConfirmedSample | None]]:
        """Yes: the person is marked (by the attendance rules: nothing new inside the cooldown), and the
        face is kept as a confirmed positive for review and retraining (None without a face)."""
        self._answer(question, UncertainAnswer.YES)
        book = AttendanceBook(self.store, self.settings.attendance)
        event = book.observe(
            question.person_id,
            question.similarity,
            question.source,
            track_id=question.track_id,
            snapshot_jpeg=question.crop_jpeg,
        )
        confirmed = None
        if question.crop_jpeg is not None:
            confirmed = self.store.add_confirmed_sample(
                question.person_id, question.similarity, question.crop_jpeg, event.id if event is not None else None
            )
        kinds = [ChangeKind.CONFUSIONS] + ([ChangeKind.EVENTS] if event is not None else [])
        return self._done((event, confirmed), Changes.of(*kinds, person_ids=[question.person_id]))

    def refuse_uncertain(self, question: UncertainQuestion, timed_out: bool = False) -> Outcome[Confusion]:
        """No (or no answer in time): nobody is marked, and the face is recorded as a confusion with
        the person it resembled (really a stranger, as far as anyone knows)."""
        self._answer(question, UncertainAnswer.TIMED_OUT if timed_out else UncertainAnswer.NO)
        confusion = self.store.add_confusion(
            question.person_id, None, ConfusionSource.UNCERTAIN_NO, question.similarity, question.crop_jpeg
        )
        return self._done(confusion, Changes.of(ChangeKind.CONFUSIONS, person_ids=[question.person_id]))
