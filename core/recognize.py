"""The live pipeline: source -> detect -> track -> embed -> match -> vote -> attendance events.

Detection can run on every Nth frame and at a reduced scale; the tracker carries boxes between
detections. Only new, unsettled or due-for-re-identification tracks are embedded, batched across
faces. A person is marked only after consistent votes over several frames.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .attendance import AttendanceBook, AttendanceRules
from .engine import Engine
from .errors import PersonNotFoundError
from .images import encode_jpeg, to_rgb
from .records import AttendanceEvent
from .sources import Frame, FrameSource
from .track import UNKNOWN, IouTracker, Track, needs_reidentification

log = logging.getLogger(__name__)

CancelCheck = Callable[[], bool]


@dataclass
class RecognizeOptions:
    detect_every: int = 1  # run MTCNN on every Nth frame; the tracker predicts in between
    detect_scale: float = 1.0  # run MTCNN on a frame scaled by this factor
    min_face_px: int = 40  # smaller faces are tracked but not identified
    reid_interval_s: float = 2.0  # tracks settled on a person are checked again this often
    unknown_recheck_s: float = 0.2  # tracks settled as unknown are checked this often (a turning face)
    unknown_delay_s: float = 1.0  # a track must stay unknown this long before it is logged
    votes_needed: int = 3
    min_vote_fraction: float = 0.6
    log_unknown: bool = True
    unknown_min_prob: float = 0.97  # only confident detections are logged as unknown visitors

    @classmethod
    def from_settings(cls, settings) -> "RecognizeOptions":
        return cls(votes_needed=settings.votes_to_mark)


@dataclass
class FaceResult:
    track_id: int
    box: np.ndarray
    state: str  # "pending", "known", "unknown", "too_small"
    person_id: int | None = None
    name: str | None = None
    similarity: float = 0.0


@dataclass
class FrameResult:
    frame: Frame
    faces: list[FaceResult]
    events: list[AttendanceEvent]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    detected: bool = False


class Recognizer:
    """Stateful per-source recognizer: feed it frames in order."""

    def __init__(self, engine: Engine, options: RecognizeOptions | None = None,
                 book: AttendanceBook | None = None, source_name: str = ""):
        self.engine = engine
        self.options = options or RecognizeOptions.from_settings(engine.settings)
        self.book = book or AttendanceBook(engine.store, AttendanceRules.from_settings(engine.settings))
        self.source_name = source_name
        # A short vote window lets a track flip quickly once its face turns to the camera.
        self.tracker = IouTracker(max_age_s=1.0, vote_window=max(5, 2 * self.options.votes_needed - 1))
        self._frames = 0
        self._probs: dict[int, float] = {}
        self._crops: dict[int, np.ndarray] = {}

    def process(self, frame: Frame) -> FrameResult:
        opts = self.options
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        rgb = to_rgb(frame.image, "bgr")
        detect_now = self._frames % max(1, opts.detect_every) == 0
        self._frames += 1
        visible: list[Track]
        if detect_now:
            faces = self.engine.detector.detect(rgb, scale=opts.detect_scale, with_crops=False)
            t1 = time.perf_counter()
            timings["detect"] = t1 - t0
            boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
            visible = self.tracker.update(boxes, frame.timestamp)
            timings["track"] = time.perf_counter() - t1
            for track, face in zip(visible, faces):
                self._probs[track.id] = face.prob
            self._embed_due(rgb, visible, faces, frame.timestamp, timings)
        else:
            visible = [t for t in self.tracker.predict(frame.timestamp) if t.misses == 0]
        t2 = time.perf_counter()
        events = self._attendance(visible, frame.timestamp)
        timings["attendance"] = time.perf_counter() - t2
        return FrameResult(frame, [self._face_result(t) for t in visible], events, timings, detect_now)

    def _embed_due(self, rgb, tracks: list[Track], faces, now: float, timings: dict[str, float]) -> None:
        detector = self.engine.detector
        due = [(t, f) for t, f in zip(tracks, faces)
               if f.size_px >= self.options.min_face_px and needs_reidentification(t, now, self._interval(t))]
        if not due:
            return
        t0 = time.perf_counter()
        from .detect import crop_face

        crops = [crop_face(rgb, f.box, detector.margin, detector.crop_size) for _, f in due]
        vectors = self.engine.embedder().embed(crops)
        t1 = time.perf_counter()
        results = self.engine.matcher().match(vectors)
        timings["embed"] = t1 - t0
        timings["match"] = time.perf_counter() - t1
        for (track, _), crop, result in zip(due, crops, results):
            track.add_vote(result.person_id, result.similarity, at=now)
            track.settle(self.options.votes_needed, self.options.min_vote_fraction)
            self._crops[track.id] = crop

    def _interval(self, track: Track) -> float:
        if track.identity is not None:
            return self.options.reid_interval_s
        return self.options.unknown_recheck_s if track.settled_unknown else 0.0

    def _attendance(self, tracks: list[Track], now: float) -> list[AttendanceEvent]:
        events = []
        for track in tracks:
            crop = self._crops.get(track.id)
            if track.identity is not None and not track.marked:
                track.marked = True
                try:
                    event = self.book.observe(track.identity, track.identity_similarity, self.source_name,
                                              track_id=track.id, snapshot_jpeg=encode_jpeg(crop) if crop is not None else None)
                except PersonNotFoundError:  # deleted while we were running
                    self.engine.gallery_changed()
                    continue
                if event is not None:
                    events.append(event)
            elif (track.settled_unknown and not track.unknown_logged and self.options.log_unknown
                  and now - track.first_seen >= self.options.unknown_delay_s
                  and self._recent_votes_unknown(track)
                  and self._probs.get(track.id, 0.0) >= self.options.unknown_min_prob):
                track.unknown_logged = True
                event = self.book.observe(None, track.identity_similarity, self.source_name, track_id=track.id,
                                          snapshot_jpeg=encode_jpeg(crop) if crop is not None else None)
                if event is not None:
                    events.append(event)
        live = {t.id for t in self.tracker.active_tracks()}
        for stale in [k for k in self._crops if k not in live]:
            self._crops.pop(stale, None)
            self._probs.pop(stale, None)
        return events

    def _recent_votes_unknown(self, track: Track) -> bool:
        recent = list(track.votes)[-self.options.votes_needed:]
        return len(recent) == self.options.votes_needed and all(person is None for person, _ in recent)

    def _face_result(self, track: Track) -> FaceResult:
        matcher = self.engine.matcher()
        if track.identity is not None:
            return FaceResult(track.id, track.box.copy(), "known", track.identity,
                              matcher.names.get(track.identity), track.identity_similarity)
        if track.settled_unknown:
            return FaceResult(track.id, track.box.copy(), UNKNOWN, similarity=track.identity_similarity)
        small = min(track.box[2] - track.box[0], track.box[3] - track.box[1]) < self.options.min_face_px
        return FaceResult(track.id, track.box.copy(), "too_small" if small and not track.votes else "pending")


def recognize_source(engine: Engine, source: FrameSource, options: RecognizeOptions | None = None,
                     cancel: CancelCheck | None = None) -> Iterator[FrameResult]:
    """Run recognition over a source until it ends or `cancel()` is true. Yields one result per frame."""
    recognizer = Recognizer(engine, options, source_name=source.name)
    for frame in source:
        if cancel and cancel():
            break
        t0 = time.perf_counter()
        result = recognizer.process(frame)
        result.timings["total"] = time.perf_counter() - t0
        yield result
