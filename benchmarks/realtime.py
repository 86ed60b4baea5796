"""Real-time recognition benchmark: Rollcall's pipeline, the naive loop and face_recognition's loop,
side by side in one run, on the Hamilton clip (640x360) and the crowd clip (1920x1080).

    .venv/bin/python benchmarks/realtime.py                       # both clips, 3 rounds
    .venv/bin/python benchmarks/realtime.py --videos hamilton --rounds 5
    .venv/bin/python benchmarks/realtime.py --configs rollcall,peer-half --json out.json
    .venv/bin/python benchmarks/realtime.py --device cuda          # torch on the GPU (MTCNN + FaceNet)

--device cuda runs every Rollcall config with settings.compute.device = cuda (the torch path: MTCNN and the
embedders on the GPU; needs torch built with CUDA). It stops with a message where no GPU is visible.

Files run as fast as possible (not at their fps). Every run is a fresh interpreter (clean peak
memory and CPU counters); rounds interleave the pipelines so a noisy neighbour hits them alike,
and the figures printed are medians over rounds. Per run:

- fps: frames processed per second of the loop (model loading and enrollment excluded; both
  pipelines are warmed up on one frame first);
- per-stage ms per frame: decode (Rollcall: time the inference thread waited for the decoder
  thread; the decoder's own cost is printed once per clip), detect (incl. resize/colour), track,
  embed, match, attendance; and detect ms per detection, embed ms per face;
- identification (Hamilton): frames with the performer labelled on screen, wrong performer labels
  (pianist and audience shots), and per performer shot the delay from the shot's first frame to
  the first labelled frame in video seconds and in processing (wall) seconds;
- CPU: cores busy = CPU seconds / wall seconds (os.times), and peak RSS (getrusage).

The performer is enrolled from frames 100, 130 and 160 for both Rollcall and face_recognition.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

CONFIGS = {
    # name: how the child runs it
    "rollcall": {"pipeline": "rollcall"},  # the defaults: ONNX Runtime, detect every 3rd frame, decode thread
    "rollcall-torch": {"pipeline": "rollcall", "embed_backend": "torch", "detect_backend": "torch"},
    "rollcall-mtcnn": {"pipeline": "rollcall", "detector": "mtcnn"},  # the defaults with MTCNN as the detector
    "rollcall-yunet": {"pipeline": "rollcall", "detector": "yunet"},  # ... with YuNet
    "rollcall-yunet-every4": {"pipeline": "rollcall", "detector": "yunet", "detect_every": 4},
    "rollcall-yunet-every12": {"pipeline": "rollcall", "detector": "yunet", "detect_every": 12},
    "rollcall-yunet-pending2": {"pipeline": "rollcall", "detector": "yunet", "detect_every_pending": 2},
    "rollcall-facenet": {"pipeline": "rollcall", "model": "facenet-keras-128"},  # FaceNet alone, not fused
    "rollcall-every1": {"pipeline": "rollcall", "detect_every": 1},
    "rollcall-every3": {"pipeline": "rollcall", "detect_every": 3},
    "rollcall-every10": {"pipeline": "rollcall", "detect_every": 10},
    "rollcall-every8": {"pipeline": "rollcall", "detect_every": 8},
    "rollcall-pending2": {"pipeline": "rollcall", "detect_every_pending": 2},
    "rollcall-nothread": {"pipeline": "rollcall", "threaded": False},
    "rollcall-1thread": {"pipeline": "rollcall", "threads": 1},
    "rollcall-torch1": {"pipeline": "rollcall", "torch_threads_after": 1},  # ORT 2 threads, torch glue 1
    # As a webcam: the file paced at its fps, stale frames dropped (LatestFrameGrabber).
    "rollcall-live": {"pipeline": "rollcall", "paced": True},
    # The naive loop: MTCNN on every frame at full scale, every face embedded on every frame (torch).
    "naive": {
        "pipeline": "rollcall",
        "naive": True,
        "embed_backend": "torch",
        "detect_backend": "torch",
        "threaded": False,
    },
    "peer-half": {"pipeline": "peer", "scale": 0.5},
    "peer-quarter": {"pipeline": "peer", "scale": 0.25},
}
DEFAULT_CONFIGS = "rollcall,peer-half,naive"
VIDEOS = {"hamilton": C.HAMILTON, "crowd": C.CROWD}


# ---- children --------------------------------------------------------------------------------------


def child_rollcall(payload: dict) -> dict:
    C.fresh_home()
    import cv2

    from core.app.engine import Engine
    from core.base.settings import ComputeSettings, Settings
    from core.live.sources import VideoFileSource

    video = Path(payload["video"])
    compute = ComputeSettings(
        torch_threads=int(payload.get("threads", 0)), active_model=payload.get("model", ComputeSettings().active_model)
    )
    if payload.get("embed_backend"):
        compute.embed_backend = payload["embed_backend"]
    if payload.get("detect_backend"):
        compute.detect_backend = payload["detect_backend"]
    if payload.get("detector"):
        compute.detector = payload["detector"]
    if payload.get("device"):
        compute.device = payload["device"]
    engine = Engine(Settings(compute=compute))
    enroller = engine.enroller()
    enroll = C.read_frames(C.HAMILTON, C.ENROLL_FRAMES)
    candidates = [
        enroller.candidate_from_frame(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), f"hamilton#{i}")
        for f, i in zip(enroll, C.ENROLL_FRAMES)
    ]
    engine.enroll_candidates("Performer", candidates)

    options = engine.settings.recognition
    for key in ("detect_every", "detect_every_pending", "detect_scale"):
        if key in payload:
            setattr(options, key, payload[key])
    if payload.get("naive"):
        options.detect_every = options.detect_every_pending = 1
        options.detect_scale = 1.0
        options.reid_interval_s = options.unknown_recheck_s = 0.0  # embed every face on every frame
    embedder, detector = engine.embedder(), engine.detector
    engine.matcher()  # loaded before the timed run
    if payload.get("torch_threads_after"):
        import torch

        torch.set_num_threads(int(payload["torch_threads_after"]))
    embedded = [0]
    plain_embed = embedder.embed

    def counting_embed(crops):
        embedded[0] += len(crops)
        return plain_embed(crops)

    embedder.embed = counting_embed
    first = C.read_frames(video, limit=1)[0]  # warm-up, outside the timed loop
    warm = detector.detect(cv2.cvtColor(first, cv2.COLOR_BGR2RGB))
    plain_embed([f.crop for f in warm[:1]] or [first[:160, :160, ::-1].copy()])

    limit = payload.get("limit")
    frames, stages, detections = [], {}, 0
    usage = C.Usage().start()
    started = time.perf_counter()
    with VideoFileSource(video, realtime=bool(payload.get("paced"))) as source:
        for result in engine.recognize(source, options, threaded=payload.get("threaded", True)):
            now = time.perf_counter()
            if payload.get("paced"):  # from the frame's moment in the paced stream to its result
                stages["capture_to_result"] = max(
                    stages.get("capture_to_result", 0.0), now - started - result.frame.timestamp
                )
            for key, value in result.timings.items():
                stages[key] = stages.get(key, 0.0) + value
            detections += result.detected
            frames.append(
                {
                    "index": result.frame.index,
                    "t_done": now,
                    "t_begin": now - result.timings.get("total", 0.0),
                    "faces": [
                        (f.track_id, f.state, f.name, float(min(f.box[2] - f.box[0], f.box[3] - f.box[1])))
                        for f in result.faces
                    ],
                    "events": [(e.kind, e.person_name) for e in result.events],
                }
            )
            if limit and len(frames) >= limit:
                break
    usage.stop()
    labels = [[f[2] or f[1] for f in fr["faces"] if f[1] == "known"] for fr in frames]
    out = summary(payload, frames, labels, usage, stages, detections, embedded[0])
    out["backends"] = (
        f"{detector.kind} on {detector.backend} ({engine.device}), embedder {getattr(embedder, 'backend', '?')}"
    )
    out["identifiable_faces"] = sum(sum(1 for f in fr["faces"] if f[3] >= options.min_face_px) for fr in frames)
    out["tracks"] = len({f[0] for fr in frames for f in fr["faces"]})
    out["events"] = [e for fr in frames for e in fr["events"]]
    out["track_latency_s"] = track_latency(frames)
    if payload.get("paced"):
        total = source.frame_count or len(frames)
        out["paced"] = {
            "frames_shown": len(frames),
            "frames_in_file": total,
            "max_capture_to_result_ms": stages.get("capture_to_result", 0.0) * 1000,
        }
    return out


def child_peer(payload: dict) -> dict:
    import peer_face_recognition as peer

    video, scale = Path(payload["video"]), float(payload.get("scale", 0.5))
    fr = peer.load()
    known, how = peer.known_encodings(fr, C.read_frames(C.HAMILTON, C.ENROLL_FRAMES), scale)
    first = C.read_frames(video, limit=1)[0]  # warm-up
    import cv2

    small = cv2.cvtColor(cv2.resize(first, (0, 0), fx=scale, fy=scale), cv2.COLOR_BGR2RGB)
    fr.face_encodings(small, fr.face_locations(small))
    usage = C.Usage().start()
    on_screen, stages, processed, times = peer.run(
        video, known, ["Performer"] * len(known), scale, payload.get("limit")
    )
    usage.stop()
    frames = [{"index": i, "t_begin": t[0], "t_done": t[1]} for i, t in enumerate(times)]
    labels = [[n for n in names if n != "Unknown"] for names in on_screen]
    out = summary(payload, frames, labels, usage, stages, processed, None)
    out["backends"] = f"dlib HOG x{scale}, {len(known)}/3 known encodings ({how})"
    out["identifiable_faces"] = sum(len(n) for n in on_screen)
    return out


def summary(payload, frames, labels, usage, stages, detections, embedded) -> dict:
    n = len(frames)
    # Positions in `frames` and frame indices differ when a paced run drops frames.
    performer = [pos for pos, names in enumerate(labels) if "Performer" in names]
    shots = []
    for start, end in C.PERFORMER_SHOTS if Path(payload["video"]).name == C.HAMILTON.name else ():
        first = next((pos for pos, fr in enumerate(frames) if fr["index"] >= start), None)
        if first is None or frames[first]["index"] >= end:
            continue
        hit = next((pos for pos in performer if start <= frames[pos]["index"] < end), None)
        shots.append(
            {
                "shot": [start, end],
                "first_labelled": None if hit is None else frames[hit]["index"],
                "video_s": None if hit is None else (frames[hit]["index"] - start) / 30.0,
                "wall_s": None if hit is None else frames[hit]["t_done"] - frames[first]["t_begin"],
            }
        )
    ms = {k: v * 1000 / max(1, n) for k, v in stages.items()}
    window = 30  # "sustained": the slowest second of video (30 consecutive frames)
    worst = min(
        (window / (frames[i + window - 1]["t_done"] - frames[i]["t_begin"]) for i in range(0, n - window + 1)),
        default=None,
    )
    return {
        "config": payload["name"],
        "video": Path(payload["video"]).name,
        "frames": n,
        "fps": n / usage.wall_s if usage.wall_s else 0.0,
        "worst_30_frames_fps": worst,
        "wall_s": usage.wall_s,
        "cpu_s": usage.cpu_s,
        "cores_busy": usage.cores_busy,
        "peak_rss_mb": usage.peak_rss_mb,
        "stage_ms_per_frame": ms,
        "detections": detections,
        "detect_ms_per_call": stages.get("detect", 0.0) * 1000 / max(1, detections),
        "embedded_faces": embedded,
        "embed_ms_per_face": (stages.get("embed", 0.0) * 1000 / embedded) if embedded else None,
        "performer_frames": len(performer),
        "wrong_performer_frames": sum(1 for pos in performer if C.in_shots(frames[pos]["index"], C.NOT_PERFORMER)),
        "performer_shots": shots,
    }


def track_latency(frames) -> list[dict]:
    """Per track that got a name: first frame of the track -> first frame with the name."""
    first_seen, named = {}, {}
    for fr in frames:
        for track_id, state, name, _ in fr["faces"]:
            first_seen.setdefault(track_id, fr)
            if state == "known" and track_id not in named:
                named[track_id] = (fr, name)
    return [
        {
            "track": t,
            "name": name,
            "from_frame": first_seen[t]["index"],
            "named_frame": fr["index"],
            "video_s": (fr["index"] - first_seen[t]["index"]) / 30.0,
            "wall_s": fr["t_done"] - first_seen[t]["t_begin"],
        }
        for t, (fr, name) in named.items()
    ]


# ---- parent --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--videos", nargs="+", default=["hamilton", "crowd"], choices=list(VIDEOS))
    parser.add_argument("--configs", default=DEFAULT_CONFIGS, help=f"comma list from {', '.join(CONFIGS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="frames per clip (0 = all)")
    parser.add_argument("--crowd-limit", type=int, default=60, help="frames of the crowd clip (0 = all 105)")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument(
        "--device",
        default="",
        choices=["", "cpu", "cuda", "mps"],
        help="settings.compute.device for Rollcall's runs (default: the settings' auto)",
    )
    args = parser.parse_args(argv)
    if args.child:
        payload = json.loads(args.child)
        result = child_peer(payload) if payload["pipeline"] == "peer" else child_rollcall(payload)
        print(json.dumps(result))
        return 0

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; choose from {list(CONFIGS)}")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA GPU is visible to torch here (torch.cuda.is_available() is False).")
            return 2
        print(f"# GPU: {torch.cuda.get_device_name(0)}")
    print(f"# Rollcall real-time benchmark — {C.machine_line()}")
    print("# Timings on a shared machine are noisy: medians over interleaved rounds.")
    runs: list[dict] = []
    for video_name in args.videos:
        video = VIDEOS[video_name]
        limit = args.limit or (args.crowd_limit if video_name == "crowd" else 0) or None
        print(
            f"\n## {video.name}"
            + (f" (first {limit} frames)" if limit else "")
            + f" — decode only: {C.decode_ms_per_frame(video):.1f} ms/frame"
        )
        for round_no in range(args.rounds):
            order = configs[round_no % len(configs) :] + configs[: round_no % len(configs)]
            for name in order:
                payload = dict(CONFIGS[name], name=name, video=str(video), limit=limit)
                if args.device and payload["pipeline"] == "rollcall":
                    payload["device"] = args.device
                try:
                    result = C.run_child(Path(__file__), payload)
                except Exception as exc:  # noqa: BLE001 - e.g. the peer is not installed: say so, go on
                    print(f"  {name}: failed: {str(exc).strip().splitlines()[-1]}")
                    continue
                result["round"] = round_no
                runs.append(result)
                print(
                    f"  round {round_no + 1} {name:<18} {result['fps']:6.1f} fps  "
                    f"performer frames {result['performer_frames']:3d}  cores {result['cores_busy']:.2f}",
                    flush=True,
                )
        report(video.name, [r for r in runs if r["video"] == video.name], configs)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1, default=str))
        print(f"\nevery run: {args.json}")
    return 0


def report(video: str, runs: list[dict], configs: list[str]) -> None:
    med = C.median
    rows, stage_rows, by = [], [], {}
    for name in configs:
        rs = [r for r in runs if r["config"] == name]
        if not rs:
            continue
        by[name] = rs
        shots = []
        for k in range(min(len(r["performer_shots"]) for r in rs)):
            vals = [r["performer_shots"][k] for r in rs]
            if all(v["first_labelled"] is None for v in vals):
                shots.append("never")
            else:
                shots.append(f"{med(v['video_s'] for v in vals):.2f}s/{med(v['wall_s'] for v in vals):.2f}s")
        rows.append(
            [
                name,
                len(rs),
                med(r["fps"] for r in rs),
                med(r["worst_30_frames_fps"] for r in rs),
                med(r["cores_busy"] for r in rs),
                med(r["cpu_s"] * 1000 / r["frames"] for r in rs),
                med(r["peak_rss_mb"] for r in rs),
                int(med(r["performer_frames"] for r in rs)),
                int(med(r["wrong_performer_frames"] for r in rs)),
                " ".join(shots) or "-",
                int(med(r["identifiable_faces"] for r in rs)),
                rs[0]["backends"],
            ]
        )
        st = {
            k: med(r["stage_ms_per_frame"].get(k, 0.0) for r in rs)
            for k in ("decode", "prepare", "detect", "track", "embed", "match", "attendance")
        }
        stage_rows.append(
            [
                name,
                st["decode"],
                st["prepare"] + st["detect"],
                st["track"],
                st["embed"],
                st["match"],
                st["attendance"],
                med(r["detect_ms_per_call"] for r in rs),
                med(r["embed_ms_per_face"] for r in rs),
            ]
        )
    print(f"\n### {video}: medians over rounds")
    print(
        C.markdown_table(
            [
                "pipeline",
                "runs",
                "fps",
                "slowest 30 frames fps",
                "cores busy",
                "CPU ms/frame",
                "peak RSS MB",
                "performer frames",
                "wrong performer",
                "to identify per shot (video/wall)",
                "faces shown",
                "backends",
            ],
            rows,
        )
    )
    print("\nper-stage ms per frame (decode = wait for the decoder thread in Rollcall):")
    print(
        C.markdown_table(
            [
                "pipeline",
                "decode",
                "detect",
                "track",
                "embed",
                "match",
                "attendance",
                "detect ms/call",
                "embed ms/face",
            ],
            stage_rows,
        )
    )
    if "rollcall" in by and any(n.startswith("peer") for n in by):
        for peer in [n for n in by if n.startswith("peer")]:
            ratio = med(r["fps"] for r in by["rollcall"]) / max(1e-9, med(r["fps"] for r in by[peer]))
            paired = [a["fps"] / b["fps"] for a in by["rollcall"] for b in by[peer] if a["round"] == b["round"]]
            print(
                f"\nRollcall / {peer}: {ratio:.2f}x fps (per-round ratios: "
                f"{', '.join(f'{p:.2f}' for p in paired)}); performer frames "
                f"{int(med(r['performer_frames'] for r in by['rollcall']))} vs "
                f"{int(med(r['performer_frames'] for r in by[peer]))}"
            )
    for r in by.get("rollcall-live", [])[:3]:
        p = r["paced"]
        print(
            f"rollcall-live (paced at the file's fps, stale frames dropped): {p['frames_shown']} of "
            f"{p['frames_in_file']} frames processed, at most {p['max_capture_to_result_ms']:.0f} ms from a "
            "frame's moment to its result"
        )
    lat = [t for r in by.get("rollcall", []) for t in r.get("track_latency_s", [])]
    if lat:
        print(
            "Rollcall, track start -> named: "
            + ", ".join(
                f"{t['name']} frame {t['from_frame']}->{t['named_frame']} "
                f"({t['video_s']:.2f}s video, {t['wall_s']:.2f}s wall)"
                for t in lat[:6]
            )
        )


if __name__ == "__main__":
    raise SystemExit(main())
