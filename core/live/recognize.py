"""The live pipeline: source -> detect -> track -> embed -> match -> vote -> attendance events.

Threads: `recognize_source` decodes on a helper thread (a live or paced source through
LatestFrameGrabber, which drops stale frames; a file through a small read-ahead queue, which drops
none) while the calling thread runs inference; the caller (CLI, GUI worker feeding the GUI thread)
displays. Per frame:

- MTCNN runs on every `detect_every`-th frame (and whenever the picture comes from a new file);
  the IoU tracker carries boxes in between by their velocity. When nobody has been seen for
  `idle_after_s`, it runs at most once per `idle_detect_interval_s` (an empty room costs little
  CPU). Large frames are detected at a reduced scale with the same smallest face size in frame
  pixels, so nothing the full-scale detector finds is lost (MTCNN's cost depends on that size, not on the scale).
- Only new, unsettled or due-for-re-identification tracks are embedded, batched across faces.
- A person is marked only after consistent votes over several frames.

The defaults were chosen with benchmarks/realtime.py (see benchmarks/README.md).
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from core.attendance.book import AttendanceBook
from core.base.cancel import CancelCheck
from core.base.errors import PersonNotFoundError
from core.base.records import AttendanceEvent, ChallengeOutcome
from core.base.settings import EnrollmentSettings, LivenessSettings, RecognitionSettings, TrackingSettings
from core.gallery.match import MatchDecision
from core.gallery.parts import PipelineParts
from core.gallery.unknowns import quality_rank
from core.live.challenge import Admission, ChallengeDesk, ChallengePrompt
from core.live.frame_feed import decoded_frames, timed_frames
from core.live.frames import Frame, FrameSource
from core.live.memory import HeapTrimmer
from core.live.track import UNKNOWN, IouTracker, Track, needs_reidentification
from core.live.uncertain import UncertainAnswer, UncertainQuestion
from core.live.uncover import UncoverDesk, UncoverPrompt
from core.vision.challenge import yaw_offset
from core.vision.fused import FACENET_CROP_SIZE, model_input
from core.vision.images import encode_jpeg, sharpness, to_rgb
from core.vision.liveness import LivenessChecker

log = logging.getLogger(__name__)

MTCNN_SMALLEST_FACE_PX = 12.0  # P-Net's window: MTCNN cannot look for smaller faces


class FaceState(enum.StrEnum):
    PENDING = "pending"  # being identified
    KNOWN = "known"
    UNKNOWN = UNKNOWN  # settled: nobody enrolled
    TOO_SMALL = "too_small"  # tracked, too small to identify
    NOT_LIVE = "not_live"  # a known face the photo filter calls a photo, or one that failed its challenge
    CHALLENGED = "challenged"  # a known face asked for a head movement before it is marked
    UNCERTAIN = "uncertain"  # near a person but not sure (ask_when_uncertain on): "Are you NAME?"
    UNCOVER = "uncover"  # not recognised and looks covered: asked once to lower the mask or take off the glasses


@dataclass
class FaceResult:
    track_id: int
    box: np.ndarray
    state: FaceState
    person_id: int | None = None
    name: str | None = None
    similarity: float = 0.0
    challenge: ChallengePrompt | None = None  # state CHALLENGED: the movement asked for now
    question: UncertainQuestion | None = None  # state UNCERTAIN: the question to put
    uncover: UncoverPrompt | None = None  # state UNCOVER: what the person is asked to take off


@dataclass
class UnknownSighting:
    """The best-quality look at a track not recognised yet: kept with its unknown event, for review."""

    rank: tuple  # core.gallery.unknowns.quality_rank
    model_id: str
    vector: np.ndarray
    crop: np.ndarray  # RGB, the embedder's own (FaceNet's) crop
    det_prob: float
    face_px: int
    sharpness: float


@dataclass
class FrameResult:
    frame: Frame
    faces: list[FaceResult]
    events: list[AttendanceEvent]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    detected: bool = False


class Recognizer:
    """Stateful per-source recognizer: feed it frames in order."""

    def __init__(
        self,
        parts: PipelineParts,
        options: RecognitionSettings | None = None,
        book: AttendanceBook | None = None,
        source_name: str = "",
        tracking: TrackingSettings | None = None,
        liveness: LivenessSettings | None = None,
        challenge_rng: random.Random | None = None,
        enrollment: EnrollmentSettings | None = None,
    ):
        self.parts = parts
        self.options = options or RecognitionSettings()
        self.liveness = liveness or LivenessSettings()
        self.book = book or AttendanceBook(parts.store)
        self.source_name = source_name
        self.tracker = IouTracker.from_settings(tracking or TrackingSettings(), self.options.votes_to_mark)
        self._frames = 0
        self._since_detect = 0
        self._last_detect_at = float("-inf")  # frame time of the last detection
        self._last_face_at: float | None = None  # ... of the last one that found a face (or the first one)
        self._last_source: str | None = None
        self._thumb: np.ndarray | None = None
        self.scene_cuts = 0
        self._probs: dict[int, float] = {}
        self._crops: dict[int, np.ndarray] = {}
        self._liveness: dict[int, LivenessChecker] = {}
        self.challenges = ChallengeDesk(
            self.liveness,
            parts.store,
            source_name,
            challenge_rng or random.SystemRandom(),
            self.book.clock,
            required_people=parts.store.people_requiring_challenge(),
        )
        self._landmarks: dict[int, tuple[np.ndarray, int]] = {}  # track id -> this detection's (landmarks, px)
        self.gates = enrollment or EnrollmentSettings()  # what makes one sighting better than another
        self._sightings: dict[int, UnknownSighting] = {}  # unrecognised track id -> its best sighting
        self._unknown_faces: dict[int, int] = {}  # logged unknown track id -> its kept face's id
        self._doubts: dict[int, list[int | None]] = {}  # track id -> recent uncertain candidates (None: not uncertain)
        self.uncover = UncoverDesk(self.options.uncover_prompt_s)
        self._questions: dict[int, UncertainQuestion] = {}  # track id -> the question put (asked once per track)
        self._best_look: dict[int, float] = {}  # track id -> the best look_score among its embedded faces

    def detection_scale(self, shape: tuple[int, ...]) -> float:
        """The scale MTCNN runs at for frames of this shape."""
        if self.options.detect_scale > 0:
            return min(1.0, float(self.options.detect_scale))
        return min(1.0, self.options.detect_short_side_px / max(1, min(shape[:2])))

    def process(self, frame: Frame) -> FrameResult:
        opts = self.options
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        new_picture = frame.source != self._last_source  # an image folder: every file is a new scene
        self._last_source = frame.source
        if self._scene_cut(frame.image) and not new_picture:
            # A cut (or the camera knocked): boxes carried over would hand one person's identity to
            # whoever now stands at the same place, so start tracking afresh.
            self.tracker.reset()
            self.scene_cuts += 1
            new_picture = True
        every = opts.detect_every_pending if self._identification_pending(frame.timestamp) else opts.detect_every
        detect_now = new_picture or self._since_detect >= max(1, every) - 1
        if detect_now and not new_picture and self._idle(frame.timestamp):
            detect_now = frame.timestamp - self._last_detect_at >= opts.idle_detect_interval_s
        self._since_detect = 0 if detect_now else self._since_detect + 1
        if detect_now:
            self._last_detect_at = frame.timestamp
        self._frames += 1
        visible: list[Track]
        if detect_now:
            image = frame.image
            if not (
                isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
            ):  # odd formats (or none: ImageError) -> BGR uint8
                image = np.ascontiguousarray(to_rgb(image, "bgr")[:, :, ::-1])
            scale = self.detection_scale(image.shape)
            small = image if scale >= 1.0 else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            small_rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            t_prep = time.perf_counter()
            timings["prepare"] = t_prep - t0
            faces = self.parts.detector().detect(
                small_rgb,
                with_crops=False,
                thresholds=opts.detect_thresholds,
                min_face_px=max(MTCNN_SMALLEST_FACE_PX, opts.detect_min_face_px * scale),
            )
            if scale < 1.0:
                for face in faces:
                    face.box = face.box / np.float32(scale)
                    face.landmarks = face.landmarks / np.float32(scale)
            t1 = time.perf_counter()
            timings["detect"] = t1 - t_prep
            if faces or self._last_face_at is None:
                self._last_face_at = frame.timestamp
            boxes = np.array([f.box for f in faces], np.float32).reshape(-1, 4)
            visible = self.tracker.update(boxes, frame.timestamp)
            for track in visible:
                _translation_only(track)
            timings["track"] = time.perf_counter() - t1
            for track, face in zip(visible, faces):
                self._probs[track.id] = face.prob
                self._landmarks[track.id] = (face.landmarks, face.size_px)
                if self._passive_check_on and face.size_px >= opts.min_face_px:
                    checker = self._liveness.setdefault(track.id, LivenessChecker.from_settings(self.liveness))
                    checker.add(image, face.landmarks, "bgr")
            self._embed_due(image, visible, faces, frame.timestamp, timings)
        else:
            visible = [t for t in self.tracker.predict(frame.timestamp) if t.misses == 0]
            timings["track"] = time.perf_counter() - t0
        t2 = time.perf_counter()
        events = self._attendance(visible, frame.timestamp)
        timings["attendance"] = time.perf_counter() - t2
        return FrameResult(frame, [self._face_result(t, frame.timestamp) for t in visible], events, timings, detect_now)

    def _idle(self, now: float) -> bool:
        """Nobody tracked and nobody detected for `idle_after_s`: detection may back off."""
        opts = self.options
        if opts.idle_detect_interval_s <= 0 or self._last_face_at is None or self.tracker.active_tracks():
            return False
        return now - self._last_face_at >= opts.idle_after_s

    @property
    def _passive_check_on(self) -> bool:
        return self.liveness.photo_filter or (self.challenges.active and self.liveness.passive_with_challenge)

    def _admitted(self, track: Track, now: float) -> bool:
        """The challenge (for everyone, or for this person's group): may this recognised track be marked now?"""
        person_id = track.identity
        if person_id is None:  # only a recognised track is ever admitted
            return False
        admission = self.challenges.admit(track.id, person_id, now)
        if admission is not Admission.WAIT:
            return admission is Admission.MARK
        looks_flat = self._passive_check_on and self._liveness_verdict(track) is False
        crop = self._crops.get(track.id)
        snapshot = lambda: encode_jpeg(crop) if crop is not None else None  # noqa: E731
        seen = self._landmarks.get(track.id)
        if seen is None:
            outcome = self.challenges.tick(track.id, person_id, now, looks_flat, snapshot)
        else:
            outcome = self.challenges.observe(track.id, person_id, seen[0], seen[1], now, looks_flat, snapshot)
        return outcome is ChallengeOutcome.PASSED

    def _liveness_verdict(self, track: Track) -> bool | None:
        checker = self._liveness.get(track.id)
        return None if checker is None else checker.verdict()

    def _identification_pending(self, now: float) -> bool:
        """A visible face big enough to identify is not settled yet, or is young and settled as
        unknown (it may still turn to the camera), or awaits its liveness verdict."""
        for track in self.tracker.active_tracks():
            if track.misses == 0 and self.challenges.challenge(track.id) is not None:
                return True
            if track.misses == 0 and self.uncover.prompt(track.id, now) is not None:
                return True
            if (
                self.liveness.photo_filter
                and track.misses == 0
                and track.identity is not None
                and not track.marked
                and self._liveness_verdict(track) is None
            ):
                return True
            if track.misses == 0 and (
                track.needs_embedding or track.identity is None and self._interval(track, now) == 0.0
            ):
                box = track.box if track.observed_box is None else track.observed_box
                size = min(box[2] - box[0], box[3] - box[1])
                # A face that was big enough once and hovers near the limit may grow back soon.
                if size >= self.options.min_face_px * (self.options.pending_size_fraction if track.votes else 1.0):
                    return True
        return False

    def _scene_cut(self, image) -> bool:
        """True when this frame looks nothing like the previous one (a cut in a video)."""
        if self.options.scene_cut_level <= 0 or not isinstance(image, np.ndarray) or image.ndim < 2:
            return False
        step = max(1, min(image.shape[:2]) // 90)
        thumb = cv2.resize(np.ascontiguousarray(image[::step, ::step]), (32, 18), interpolation=cv2.INTER_AREA).astype(
            np.float32
        )
        previous, self._thumb = self._thumb, thumb
        if previous is None or previous.shape != thumb.shape:
            return previous is not None
        return float(np.abs(thumb - previous).mean()) > self.options.scene_cut_level

    def _embed_due(self, bgr, tracks: list[Track], faces, now: float, timings: dict[str, float]) -> None:
        due = [
            (t, f)
            for t, f in zip(tracks, faces)
            if f.size_px >= self.options.min_face_px and needs_reidentification(t, now, self._interval(t, now))
        ]
        if not due:
            return
        t0 = time.perf_counter()
        # Each model cuts its own crop from the full-resolution BGR frame; only the crops become RGB.
        embedder = self.parts.embedder()
        inputs = [model_input(embedder, bgr, f, bgr=True) for _, f in due]
        vectors = embedder.embed(inputs)
        crops = [getattr(i, "crop", i) for i in inputs]  # the snapshot: FaceNet's crop
        t1 = time.perf_counter()
        results = self.parts.matcher().match(vectors)
        timings["embed"] = t1 - t0
        timings["match"] = time.perf_counter() - t1
        for (track, face), crop, vector, result in zip(due, crops, vectors, results):
            self._best_look[track.id] = max(self._best_look.get(track.id, 0.0), self._current_look(track) or 0.0)
            track.add_vote(result.person_id, result.similarity, at=now)
            track.settle(self.options.votes_to_mark, self.options.min_vote_fraction)
            self._crops[track.id] = crop
            if track.identity is None and self.options.log_unknown:
                self._keep_sighting(track.id, embedder.model_id, vector, crop, face)
            if self.options.ask_when_uncertain:
                self._doubt(track, result, now)
            if track.identity is None:
                self.uncover.observe(track.id, result, now)

    def _keep_sighting(self, track_id: int, model_id: str, vector: np.ndarray, crop: np.ndarray, face) -> None:
        """Remember a track's best look; once its unknown event is logged, a better look replaces the kept face."""
        sharp = sharpness(crop)
        rank = quality_rank(face.prob, face.size_px, sharp, self.gates)
        best = self._sightings.get(track_id)
        if best is not None and best.rank >= rank:
            return
        sighting = UnknownSighting(
            rank, model_id, np.array(vector, np.float32), crop, float(face.prob), int(face.size_px), sharp
        )
        self._sightings[track_id] = sighting
        face_id = self._unknown_faces.get(track_id)
        if face_id is not None:
            self.parts.store.update_unknown_face(
                face_id,
                model_id,
                sighting.vector,
                encode_jpeg(crop),
                sighting.det_prob,
                sighting.face_px,
                sighting.sharpness,
            )

    def _doubt(self, track: Track, result, now: float) -> None:
        """Put the question once the last `votes_to_mark` matches were uncertain for one person."""
        uncertain = result.decision is MatchDecision.UNCERTAIN
        doubts = self._doubts.setdefault(track.id, [])
        doubts.append(result.best_person_id if uncertain else None)
        del doubts[: -self.options.votes_to_mark]
        if (
            track.id in self._questions
            or track.identity is not None
            or len(doubts) < self.options.votes_to_mark
            or doubts[0] is None
            or any(d != doubts[0] for d in doubts)
        ):
            return
        crop = self._crops.get(track.id)
        self._questions[track.id] = UncertainQuestion(
            track.id,
            int(doubts[0]),
            self.parts.matcher().names.get(int(doubts[0]), "?"),
            result.similarity,
            encode_jpeg(crop) if crop is not None else None,
            self.source_name,
            now,
            self.options.ask_timeout_s,
        )

    def _interval(self, track: Track, now: float) -> float:
        """How long after its last embedding a track is embedded again."""
        opts = self.options
        if track.identity is not None:
            return opts.reid_interval_s
        if self.uncover.prompt(track.id, now) is not None:
            return 0.0  # asked to uncover: embedded on every detection until it is named
        if track.settled_unknown:
            young = now - track.first_seen < opts.young_track_s
            best = max((similarity for _, similarity in track.votes), default=-1.0)
            if not young or best < self.parts.matcher().threshold - opts.ambiguous_below:
                return opts.unknown_recheck_s if self._looks_better(track) else opts.reid_interval_s
        return 0.0

    def _current_look(self, track: Track) -> float | None:
        seen = self._landmarks.get(track.id)  # set for this frame's detections only
        return None if seen is None else look_score(*seen)

    def _looks_better(self, track: Track) -> bool:
        """Does this detection show the face clearly better than every look embedded so far?"""
        look = self._current_look(track)
        return look is not None and look > self._best_look.get(track.id, 0.0) * (1.0 + self.options.better_look)

    def _attendance(self, tracks: list[Track], now: float) -> list[AttendanceEvent]:
        events = []
        for track in tracks:
            crop = self._crops.get(track.id)
            if track.identity is not None and not track.marked:
                if self.challenges.required_for(track.identity):
                    if not self._admitted(track, now):
                        continue  # asked for a head movement, or refused
                elif self.liveness.photo_filter and self._liveness_verdict(track) is not True:
                    continue  # the photo filter alone: not yet seen moving like a live face (or looks like a photo)
                track.marked = True
                try:
                    event = self.book.observe(
                        track.identity,
                        track.identity_similarity,
                        self.source_name,
                        track_id=track.id,
                        snapshot_jpeg=encode_jpeg(crop) if crop is not None else None,
                    )
                except PersonNotFoundError:  # deleted while we were running
                    self.parts.gallery_changed()
                    continue
                if event is not None:
                    events.append(event)
            elif (
                track.settled_unknown
                and not track.unknown_logged
                and self.options.log_unknown
                and track.id not in self._questions  # asked instead: the answer decides
                and self.uncover.prompt(track.id, now) is None  # asked to uncover: wait for the face
                and now - track.first_seen >= self.options.unknown_delay_s
                and self._recent_votes_unknown(track)
                and self._probs.get(track.id, 0.0) >= self.options.unknown_min_prob
            ):
                track.unknown_logged = True
                event = self._log_unknown(track, crop)
                if event is not None:
                    events.append(event)
        live = {t.id for t in self.tracker.active_tracks()}
        for stale in [k for k in self._crops if k not in live]:
            self._crops.pop(stale, None)
            self._probs.pop(stale, None)
        for stale in [k for k in self._sightings if k not in live]:
            self._sightings.pop(stale, None)
            self._unknown_faces.pop(stale, None)
        for stale in [k for k in self._liveness if k not in live]:
            self._liveness.pop(stale, None)
        for table in (self._doubts, self._questions, self._best_look):
            for stale in [k for k in table if k not in live]:
                table.pop(stale, None)
        self.challenges.forget(live)
        self.uncover.forget(live)
        self._landmarks.clear()
        return events

    def _log_unknown(self, track: Track, crop: np.ndarray | None) -> AttendanceEvent | None:
        """The unknown event, and with it (one transaction) the track's best face and embedding for review."""
        store = self.parts.store
        sighting = self._sightings.get(track.id)
        with store.transaction():
            event = self.book.observe(
                None,
                track.identity_similarity,
                self.source_name,
                track_id=track.id,
                snapshot_jpeg=encode_jpeg(crop) if crop is not None else None,
            )
            if event is not None and sighting is not None:
                kept = store.add_unknown_face(
                    event.id,
                    sighting.model_id,
                    sighting.vector,
                    encode_jpeg(sighting.crop),
                    sighting.det_prob,
                    sighting.face_px,
                    sighting.sharpness,
                )
                self._unknown_faces[track.id] = kept.id
        return event

    def _recent_votes_unknown(self, track: Track) -> bool:
        recent = list(track.votes)[-self.options.votes_to_mark :]
        return len(recent) == self.options.votes_to_mark and all(person is None for person, _ in recent)

    def _face_result(self, track: Track, now: float) -> FaceResult:
        matcher = self.parts.matcher()
        if track.identity is not None:
            looks_like_photo = self.liveness.photo_filter and self._liveness_verdict(track) is False
            prompt = self.challenges.prompt(track.id, now)
            failed = (
                self.challenges.required_for(track.identity)
                and not track.marked
                and self.challenges.last_outcome(track.id) not in (None, ChallengeOutcome.PASSED)
            )
            state = (
                FaceState.CHALLENGED
                if prompt
                else FaceState.NOT_LIVE
                if looks_like_photo or failed
                else FaceState.KNOWN
            )
            return FaceResult(
                track.id,
                track.box.copy(),
                state,
                track.identity,
                matcher.names.get(track.identity),
                track.identity_similarity,
                prompt,
            )
        question = self._questions.get(track.id)
        if question is not None and question.answer in (None, UncertainAnswer.YES):
            state = FaceState.UNCERTAIN if question.answer is None else FaceState.KNOWN
            return FaceResult(
                track.id,
                track.box.copy(),
                state,
                question.person_id,
                question.name,
                question.similarity,
                question=question if question.answer is None else None,
            )
        asked = self.uncover.prompt(track.id, now)
        if asked is not None:
            return FaceResult(track.id, track.box.copy(), FaceState.UNCOVER, uncover=asked)
        if track.settled_unknown:
            return FaceResult(track.id, track.box.copy(), FaceState.UNKNOWN, similarity=track.identity_similarity)
        small = min(track.box[2] - track.box[0], track.box[3] - track.box[1]) < self.options.min_face_px
        return FaceResult(
            track.id, track.box.copy(), FaceState.TOO_SMALL if small and not track.votes else FaceState.PENDING
        )


def look_score(landmarks: np.ndarray, size_px: float) -> float:
    """How well a face shows itself to the embedder: its size in pixels (up to FaceNet's crop, beyond which
    more adds nothing) times how squarely it faces the camera (1 frontal, 0 from half an eye-distance of
    nose offset on; 0 when the landmarks make no face)."""
    yaw = yaw_offset(landmarks)
    frontal = 0.0 if yaw is None else max(0.0, 1.0 - 2.0 * abs(yaw))
    return min(float(size_px), float(FACENET_CROP_SIZE)) * frontal


def _translation_only(track: Track) -> None:
    """Keep a track's box size between detections: extrapolating MTCNN's jittery size over several
    frames shrinks or swells boxes until they no longer overlap the next detection."""
    v = track.velocity
    vx, vy = (v[0] + v[2]) / 2, (v[1] + v[3]) / 2
    track.velocity = np.array([vx, vy, vx, vy], np.float32)


def recognize_source(
    recognizer: Recognizer,
    source: FrameSource,
    cancel: CancelCheck | None = None,
    threaded: bool = True,
    paced: bool = False,
) -> Iterator[FrameResult]:
    """Run recognition over a source until it ends or `cancel()` is true. Yields one result per frame.

    threaded: decode on a helper thread while this one runs inference (see `decoded_frames`);
    False reads the source on this thread. result.timings["decode"] is the time spent waiting for
    (threaded) or reading (not threaded) the frame. paced: see `decoded_frames`.
    """
    frames = decoded_frames(source, paced=paced) if threaded else timed_frames(iter(source))
    trimmer = HeapTrimmer(recognizer.options.memory_trim_interval_s)
    try:
        for frame, waited in frames:
            if cancel and cancel():
                break
            t0 = time.perf_counter()
            result = recognizer.process(frame)
            result.timings["total"] = time.perf_counter() - t0
            result.timings["decode"] = waited
            trimmer.tick(frame.timestamp)
            yield result
    finally:
        frames.close()
