"""IoU tracker and identity voting."""

from __future__ import annotations

import numpy as np
import pytest

from core.live.track import UNKNOWN, IouTracker, Track, iou_matrix, needs_reidentification


def box(x: float, y: float, size: float = 100) -> list[float]:
    return [x, y, x + size, y + size]


def test_iou_matrix_values_and_shapes():
    a = np.array([box(0, 0), box(200, 200)], np.float32)
    b = np.array([box(0, 0), box(50, 0), box(500, 500)], np.float32)
    m = iou_matrix(a, b)
    assert m.shape == (2, 3) and m.dtype == np.float32
    assert m[0, 0] == pytest.approx(1.0)
    assert m[0, 1] == pytest.approx(5000 / 15000)
    assert m[0, 2] == 0 and m[1].max() == 0
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (2, 0)


def test_two_smoothly_moving_faces_keep_their_ids():
    tracker = IouTracker()
    ids = None
    for frame in range(30):
        t = frame / 30
        boxes = np.array([box(50 + 4 * frame, 100), box(400 - 3 * frame, 120 + 2 * frame)])
        tracks = tracker.update(boxes, t)
        if ids is None:
            ids = [tr.id for tr in tracks]
        assert [tr.id for tr in tracks] == ids  # returned in detection order
    assert len(set(ids)) == 2 and len(tracker.active_tracks()) == 2
    left = tracker.active_tracks()[0]
    assert left.hits == 30 and left.misses == 0
    assert left.velocity[0] == pytest.approx(120, rel=0.05)  # 4 px per frame at 30 fps


def test_disappearing_face_is_dropped_after_max_misses():
    tracker = IouTracker(max_misses=3, max_age_s=10)
    tracker.update(np.array([box(0, 0), box(300, 0)]), 0.0)
    for frame in range(1, 4):  # the second face is missed 3 times: still alive
        tracker.update(np.array([box(0, 0)]), frame * 0.1)
        assert len(tracker.active_tracks()) == 2
    tracker.update(np.array([box(0, 0)]), 0.4)  # 4th miss: gone
    assert [t.id for t in tracker.active_tracks()] == [1]


def test_face_is_dropped_after_max_age():
    tracker = IouTracker(max_misses=100, max_age_s=1.0)
    tracker.update(np.array([box(0, 0)]), 0.0)
    tracker.update(np.zeros((0, 4)), 0.5)
    assert len(tracker.active_tracks()) == 1
    tracker.update(np.zeros((0, 4)), 1.2)
    assert tracker.active_tracks() == []


def test_reappearing_face_is_matched_and_flagged_for_embedding():
    tracker = IouTracker(max_misses=3)
    (track,) = tracker.update(np.array([box(0, 0)]), 0.0)
    track.add_vote(7, 0.8, at=0.0)
    assert not track.needs_embedding
    tracker.update(np.zeros((0, 4)), 0.1)
    (again,) = tracker.update(np.array([box(2, 0)]), 0.2)
    assert again is track and track.needs_embedding  # may be someone else after an occlusion


def test_jump_across_the_frame_gets_a_new_id():
    tracker = IouTracker()
    (first,) = tracker.update(np.array([box(10, 10)]), 0.0)
    (second,) = tracker.update(np.array([box(500, 300)]), 1 / 30)
    assert second.id != first.id
    assert {t.id for t in tracker.active_tracks()} == {first.id, second.id}  # old one lingers


def test_predict_moves_boxes_by_velocity_without_compounding():
    tracker = IouTracker(max_age_s=1.0)
    tracker.update(np.array([box(0, 0)]), 0.0)
    tracker.update(np.array([box(10, 0)]), 0.1)  # 100 px/s to the right
    (track,) = tracker.predict(0.2)
    assert track.box[0] == pytest.approx(20)
    tracker.predict(0.3)
    assert track.box[0] == pytest.approx(30)  # from the last detection, not the last prediction
    # detection at reduced rate: the fast face still matches its predicted box
    (matched,) = tracker.update(np.array([box(60, 0)]), 0.6)
    assert matched is track


def make_track() -> Track:
    return Track(id=1, box=np.array(box(0, 0)), first_seen=0.0, last_seen=0.0)


def test_votes_settle_after_n_consistent_votes():
    track = make_track()
    for _ in range(1, 3):
        track.add_vote(5, 0.7)
        assert track.settled_identity(votes_needed=3) is None
    track.add_vote(5, 0.9)
    assert track.settled_identity(votes_needed=3) == 5
    assert track.settle(votes_needed=3) == 5
    assert track.identity == 5 and track.is_settled
    assert track.identity_similarity == pytest.approx((0.7 + 0.7 + 0.9) / 3)


def test_split_vote_does_not_settle():
    track = make_track()
    for person in (1, 2, 1, 2, 1, 2):
        track.add_vote(person, 0.8)
    assert track.settled_identity(votes_needed=3) is None  # tie
    track.add_vote(1, 0.8)
    assert track.settled_identity(votes_needed=3) is None  # 4 of 7 < 60 %
    assert track.settle(votes_needed=3) is None and not track.is_settled
    for _ in range(3):
        track.add_vote(1, 0.8)
    assert track.settled_identity(votes_needed=3) == 1  # 7 of 10


def test_vote_window_keeps_recent_votes_only():
    track = make_track()
    for _ in range(10):
        track.add_vote(1, 0.8)
    for _ in range(7):
        track.add_vote(2, 0.8)
    assert len(track.votes) == 10 and track.vote_counts == {1: 3, 2: 7}
    assert track.settled_identity(votes_needed=3) == 2


def test_unknown_settles_and_identity_change_resets_marks():
    track = make_track()
    for _ in range(3):
        track.add_vote(None, 0.3)
    assert track.settle(votes_needed=3) == UNKNOWN
    assert track.identity is None and track.settled_unknown and track.is_settled
    track.unknown_logged = True
    for _ in range(6):
        track.add_vote(4, 0.9)
    assert track.settle(votes_needed=3) == 4
    assert track.identity == 4 and not track.settled_unknown and not track.unknown_logged


def test_reidentification_interval():
    track = make_track()
    assert needs_reidentification(track, now=0.0, interval_s=2.0)  # new
    track.add_vote(3, 0.8, at=0.0)
    assert needs_reidentification(track, now=0.1, interval_s=2.0)  # unsettled
    track.add_vote(3, 0.8, at=0.1)
    track.add_vote(3, 0.8, at=0.2)
    track.settle(votes_needed=3)
    assert not needs_reidentification(track, now=1.0, interval_s=2.0)
    assert needs_reidentification(track, now=2.2, interval_s=2.0)
    track.add_vote(3, 0.8, at=2.2)
    assert not needs_reidentification(track, now=3.0, interval_s=2.0)


def test_linear_sum_assignment_matches_scipy():
    from scipy.optimize import linear_sum_assignment as scipy_lsa

    from core.live.track import linear_sum_assignment

    rng = np.random.default_rng(3)
    for rows, cols in [(1, 1), (1, 5), (5, 1), (3, 7), (7, 3), (6, 6), (30, 25), (12, 40)]:
        for _ in range(20):
            cost = -rng.uniform(0, 1, (rows, cols)) * (rng.uniform(0, 1, (rows, cols)) > 0.4)  # -IoU with zeros
            mine, theirs = linear_sum_assignment(cost), scipy_lsa(cost)
            assert np.isclose(cost[mine].sum(), cost[theirs].sum())
            if rows == 1 or cols == 1 or (cost != 0).all():
                np.testing.assert_array_equal(np.stack(mine), np.stack(theirs))
