"""Frame sources: the real video file, image folders, dispatch, errors, reconnect and the grabber."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.base.errors import SourceError
from core.live.sources import (
    CameraSource,
    Frame,
    FrameSource,
    ImageFolderSource,
    LatestFrameGrabber,
    ReconnectPolicy,
    StreamSource,
    VideoFileSource,
    list_cameras,
    open_source,
)
from tests.kits.paths import FACES

VIDEO = FACES / "video" / "hamilton_640x360.mp4"
needs_faces = pytest.mark.skipif(not VIDEO.exists(), reason="shared face data not present")

FAST = ReconnectPolicy(max_tries=4, initial_delay_s=0.001, max_delay_s=0.004)


class FakeCapture:
    """A capture that delivers `frames` frames, then fails every read."""

    def __init__(self, frames: int, opened: bool = True):
        self.frames_left = frames
        self.opened = opened
        self.released = False

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        if self.frames_left <= 0 or self.released:
            return False, None
        self.frames_left -= 1
        return True, np.zeros((4, 6, 3), np.uint8)

    def get(self, prop_id: int) -> float:
        return 0.0

    def set(self, prop_id: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.released = True


class ScriptedFactory:
    """Hands out prepared captures in order (each open attempt takes the next one)."""

    def __init__(self, captures: list[FakeCapture]):
        self.captures = list(captures)
        self.opened_targets: list[object] = []

    def __call__(self, target):
        self.opened_targets.append(target)
        return self.captures.pop(0) if self.captures else FakeCapture(0, opened=False)


@needs_faces
def test_video_file_frames_shape_fps_and_timestamps():
    with VideoFileSource(VIDEO) as source:
        assert source.frame_count == 275
        assert source.fps == pytest.approx(30, abs=0.1)
        assert not source.is_live
        frames = list(source)
    assert len(frames) == 275
    assert [f.index for f in frames] == list(range(275))
    assert all(f.image.shape == (360, 640, 3) and f.image.dtype == np.uint8 for f in frames[::50])
    stamps = np.array([f.timestamp for f in frames])
    assert stamps[0] == 0.0 and np.all(np.diff(stamps) > 0)
    assert stamps[-1] == pytest.approx(274 / 29.97, abs=0.05)
    assert frames[0].source == str(VIDEO)


@needs_faces
def test_image_folder_sorted_and_corrupt_file_skipped(tmp_path, caplog):
    person = FACES / "dev" / "Colin_Powell"
    for number in (3, 1, 2):
        shutil.copy(person / f"Colin_Powell_000{number}.jpg", tmp_path / f"img_{number}.jpg")
    (tmp_path / "img_15_broken.jpg").write_bytes(b"not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    with ImageFolderSource(tmp_path, fps=2.0) as source:
        assert source.frame_count == 4
        frames = list(source)
    assert [Path(f.source).name for f in frames] == ["img_1.jpg", "img_2.jpg", "img_3.jpg"]
    assert [f.timestamp for f in frames] == [0.0, 0.5, 1.0]
    assert frames[0].image.shape == (250, 250, 3)
    assert [p.name for p in source.skipped] == ["img_15_broken.jpg"]
    assert "img_15_broken.jpg" in caplog.text


def test_empty_or_missing_folder_raises(tmp_path):
    with pytest.raises(SourceError, match="No images"):
        ImageFolderSource(tmp_path)
    with pytest.raises(SourceError, match="not found"):
        ImageFolderSource(tmp_path / "nope")


@needs_faces
def test_open_source_dispatch(tmp_path):
    shutil.copy(FACES / "dev" / "Colin_Powell" / "Colin_Powell_0001.jpg", tmp_path / "a.jpg")
    with open_source(str(VIDEO), width=320, on_status=print) as source:  # extra kwargs ignored
        assert isinstance(source, VideoFileSource)
    with open_source(tmp_path) as source:
        assert isinstance(source, ImageFolderSource)

    factory = ScriptedFactory([FakeCapture(1), FakeCapture(1), FakeCapture(1)])
    with open_source(" 2 ", capture_factory=factory) as source:
        assert isinstance(source, CameraSource) and source.is_live and source.frame_count is None
    with open_source(3, capture_factory=factory) as source:
        assert isinstance(source, CameraSource)
    with open_source("rtsp://admin:secret@10.0.0.5/stream", capture_factory=factory) as source:
        assert isinstance(source, StreamSource)
        assert "secret" not in source.name and "10.0.0.5" in source.name
    assert factory.opened_targets == [2, 3, "rtsp://admin:secret@10.0.0.5/stream"]


def test_missing_file_camera_and_bad_video(tmp_path):
    with pytest.raises(SourceError, match="No such file or folder"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(SourceError, match="No camera at index 9. Connect a webcam"):
        open_source(9)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 2048)
    with pytest.raises(SourceError, match="Cannot (open|read any frame from) video bad.mp4"):
        open_source(bad)


def test_list_cameras_probes_quietly():
    factory = ScriptedFactory([FakeCapture(0, opened=False), FakeCapture(1), FakeCapture(0, opened=False)])
    assert list_cameras(max_index=2, capture_factory=factory) == [1]
    start = time.monotonic()
    assert isinstance(list_cameras(), list)  # real probe: fast even without any camera
    assert time.monotonic() - start < 3


def test_reconnect_recovers_after_failed_attempts():
    # first capture: 2 frames then dead; reopen fails twice; third reopen works with 3 frames
    factory = ScriptedFactory(
        [FakeCapture(2), FakeCapture(0, opened=False), FakeCapture(0, opened=False), FakeCapture(3)]
    )
    messages: list[str] = []
    source = CameraSource(0, capture_factory=factory, reconnect=FAST, on_status=messages.append)
    frames = [source.read() for _ in range(5)]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert messages == [
        "Camera lost, reconnecting (try 1 of 4)…",
        "Camera lost, reconnecting (try 2 of 4)…",
        "Camera lost, reconnecting (try 3 of 4)…",
        "Camera reconnected.",
    ]
    assert [f.timestamp for f in frames] == sorted(f.timestamp for f in frames)
    source.close()


def test_reconnect_gives_up_with_source_error():
    factory = ScriptedFactory([FakeCapture(1)])  # every reopen fails
    messages: list[str] = []
    with CameraSource(0, capture_factory=factory, reconnect=FAST, on_status=messages.append) as source:
        iterator = iter(source)
        assert next(iterator).index == 0
        with pytest.raises(SourceError, match="did not come back after 4 tries"):
            next(iterator)
    assert len(messages) == 5 and messages[-1] == "Camera lost; gave up after 4 tries."
    assert len(factory.opened_targets) == 5


def test_back_off_delays_double_up_to_the_limit():
    policy = ReconnectPolicy(max_tries=6, initial_delay_s=0.5, max_delay_s=4.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_stop_event_ends_iteration():
    stop = threading.Event()
    source = CameraSource(0, capture_factory=ScriptedFactory([FakeCapture(1000)]), stop_event=stop)
    count = 0
    for frame in source:
        count += 1
        if frame.index == 9:
            stop.set()
    assert count == 10
    source.close()


def test_stop_event_interrupts_reconnect_wait():
    stop = threading.Event()
    slow = ReconnectPolicy(max_tries=3, initial_delay_s=30.0)
    source = CameraSource(0, capture_factory=ScriptedFactory([FakeCapture(0)]), reconnect=slow, stop_event=stop)
    threading.Timer(0.1, stop.set).start()
    start = time.monotonic()
    assert list(source) == []
    assert time.monotonic() - start < 2


class CountingSource(FrameSource):
    """Produces `total` tiny frames as fast as it can."""

    def __init__(self, total: int):
        super().__init__("counting")
        self.total, self.index = total, 0

    @property
    def fps(self):
        return None

    def read(self):
        if self.index >= self.total:
            return None
        self.index += 1
        return Frame(self.index - 1, float(self.index), np.zeros((2, 2, 3), np.uint8), self.name)


def test_latest_frame_grabber_drops_stale_frames_and_joins():
    source = CountingSource(200)
    grabber = LatestFrameGrabber(source)
    deadline = time.monotonic() + 2
    while grabber.is_running and time.monotonic() < deadline:
        time.sleep(0.01)
    frame = grabber.get(timeout=1)
    assert frame is not None and frame.index == 199  # only the newest survived
    assert grabber.dropped > 0
    assert grabber.get(timeout=0.05) is None and grabber.ended
    grabber.close()
    assert not grabber.is_running


def test_latest_frame_grabber_stops_a_live_source_and_reports_errors():
    factory = ScriptedFactory([FakeCapture(10**9)])
    with CameraSource(0, capture_factory=factory) as source, LatestFrameGrabber(source) as grabber:
        first = grabber.get(timeout=1)
        second = grabber.get(timeout=1)
        assert first is not None and second is not None and second.index > first.index
    assert not grabber.is_running

    dead = CameraSource(0, capture_factory=ScriptedFactory([FakeCapture(0)]), reconnect=FAST)
    with LatestFrameGrabber(dead) as grabber, pytest.raises(SourceError):
        grabber.get(timeout=2)


@needs_faces
def test_latest_frame_grabber_on_the_video_file():
    with VideoFileSource(VIDEO) as source, LatestFrameGrabber(source) as grabber:
        frame = grabber.get(timeout=2)
        assert frame is not None and frame.image.shape == (360, 640, 3)
    assert not grabber.is_running
