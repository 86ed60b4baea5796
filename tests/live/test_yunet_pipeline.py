"""A gallery enrolled through MTCNN is recognised through YuNet (its FaceNet crops and SFace alignment agree).
On the crowd clip, YuNet's pipeline marking everyone MTCNN's naive loop finds: tests/live/test_realtime.py."""

from __future__ import annotations

import pytest

from core.base.settings import ComputeSettings, Settings


@pytest.mark.slow
def test_a_gallery_enrolled_with_mtcnn_is_recognised_through_yunet(default_weights, rollcall_home, faces):
    """Half the dev people enrolled through MTCNN (photos 1-4), then queried (photos 5-8) through YuNet:
    everyone named, no stranger marked."""
    from core.app.engine import Engine
    from core.app.identification import IdentificationSet, dev_closed_set, enroll_set, identify_set

    full = dev_closed_set(faces / "dev", faces / "dev_unknown")
    kept = sorted(full.enroll)[:16]
    dataset = IdentificationSet(
        {name: full.enroll[name] for name in kept}, [q for q in full.queries if q[0] in kept], full.strangers
    )
    with Engine(Settings(compute=ComputeSettings(detector="mtcnn"))) as engine:
        assert engine.detector.kind == "mtcnn"
        refused = enroll_set(engine, dataset)
    with Engine(Settings(compute=ComputeSettings(detector="yunet"))) as engine:
        assert engine.detector.kind == "yunet"
        result = identify_set(engine, dataset, refused=refused)
    assert result.top1 * result.queries >= result.queries - 1, result.lines()
    assert result.strangers_per_1000 == 0.0, result.lines()
