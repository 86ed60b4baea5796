"""The `rollcall` command: enrollment, recognition, reports and evaluation from a terminal."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

from core.base.errors import DuplicateNameError, RollcallError, StoreError

log = logging.getLogger("rollcall")


# ---- helpers ----

def _engine(args):
    from core.app.engine import Engine
    from core.base.settings import Settings

    settings = Settings.load()
    if getattr(args, "threshold", None) is not None:
        settings.recognition.match_threshold = args.threshold
    if getattr(args, "device", None):
        settings.compute.device = args.device
    if getattr(args, "liveness", False):
        settings.liveness.enabled = True
    engine = Engine(settings)
    for problem in engine.housekeeping_status.problems():
        print(f"warning: {problem}", file=sys.stderr)
    return engine


def _parse_day(text: str) -> date:
    if text == "today":
        return date.today()
    if text == "yesterday":
        return date.today() - timedelta(days=1)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD, today or yesterday") from None


def _progress(label: str, total: int | None = None):
    """A tqdm progress bar on stderr; left out when stderr is not a terminal (logs stay clean)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, file=sys.stderr, disable=None, dynamic_ncols=True, leave=False)


def _advance(bar, done: int, total: int | None = None, extra: str = "") -> None:
    if total is not None:
        bar.total = total
    bar.update(done - bar.n)
    if extra:
        bar.set_postfix_str(extra, refresh=False)


def _print_report(report) -> None:
    for name in report.people_added:
        print(f"enrolled: {name}")
    print(f"samples added: {report.samples_added}, already in the gallery: {report.skipped_duplicates}, "
          f"refused: {len(report.refused)}")
    for refusal in report.refused:
        print(f"  refused ({refusal.reason}): {refusal.message}")
    for warning in report.warnings:
        print(f"  warning: {warning}")


# ---- commands ----

def cmd_enroll(args) -> int:
    with _engine(args) as engine:
        group = engine.find_group(args.group) if args.group else None  # a wrong name enrolls nobody
        try:
            report = engine.enroll_files(args.name, [Path(p) for p in args.images], external_id=args.external_id,
                                         add_to_existing=args.add, allow_duplicate=args.separate).value
        except DuplicateNameError as exc:
            print(f"error: {exc}\n  use --add to add the photos to them, or --separate for a new person "
                  "with the same name", file=sys.stderr)
            return 2
        _print_report(report)
        if group is not None:
            for person_id in report.person_ids.values():
                engine.assign_group(person_id, group.id)
            print(f"group: {group.name}")
        return 0 if report.samples_added or report.skipped_duplicates else 1


def cmd_import(args) -> int:
    with _engine(args) as engine:
        report = None
        with _progress("import") as bar:
            for step in engine.import_folder(Path(args.folder)):
                _advance(bar, step.done, step.total, Path(step.current).name if step.current else "")
                report = step.report
        _print_report(report)
        return 0


def cmd_people(args) -> int:
    with _engine(args) as engine:
        people = engine.people(search=args.search, include_inactive=args.all)
        if args.json:
            print(json.dumps([{"id": o.person.id, "name": o.person.name, "external_id": o.person.external_id,
                               "samples": o.samples, "active": o.person.active} for o in people]))
            return 0
        for o in people:
            ext = f" [{o.person.external_id}]" if o.person.external_id else ""
            print(f"{o.person.id:>5}  {o.person.name}{ext}  ({o.samples} samples)")
        print(f"{len(people)} people")
        return 0


def cmd_delete(args) -> int:
    with _engine(args) as engine:
        person = engine.find_person(args.person)
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"error: refusing to delete {person.name} (id {person.id}) without --yes", file=sys.stderr)
                return 2
            if input(f"Delete {person.name} (id {person.id}) and all their photos? [y/N] ").strip().lower() != "y":
                print("nothing deleted")
                return 1
        removed = engine.delete_person(person.id).value
        print(f"deleted {person.name}: {removed.samples} samples, {removed.events} events")
        for problem in removed.problems():
            print(f"warning: {problem}", file=sys.stderr)
        return 0 if removed.fully_erased else 1


def cmd_identify(args) -> int:
    from core.vision.images import load_image

    with _engine(args) as engine:
        matcher = engine.matcher()
        status = 0
        for path in args.images:
            try:
                rgb = load_image(path)
            except RollcallError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = 1
                continue
            faces = engine.detector.detect(rgb)
            from core.vision.fused import model_input

            embedder = engine.embedder()
            results = matcher.match(embedder.embed([model_input(embedder, rgb, f) for f in faces])) if faces else []
            if not faces and not args.json:
                print(f"{path}: no face found")
            for face, result in zip(faces, results):
                box = [round(float(v), 1) for v in face.box]
                if args.json:
                    print(json.dumps({"image": str(path), "box": box, "person": result.name,
                                      "person_id": result.person_id, "similarity": round(result.similarity, 4)}))
                else:
                    who = result.name if result.is_known else "unknown"
                    print(f"{path}: {who} (similarity {result.similarity:.3f}) at {box}")
        return status


def cmd_recognize(args) -> int:
    from core.base.records import EventKind

    stop = threading.Event()
    with _engine(args) as engine:
        if engine.start_site_sync():
            print(f"[site] syncing with {engine.site_status(check_server=False).server} in the background",
                  file=sys.stderr)
        camera = engine.settings.camera
        source_spec = args.source or camera.last_source or str(camera.index)
        with engine.open_source(source_spec, stop_event=stop,
                                on_status=lambda msg: print(f"[source] {msg}", file=sys.stderr)) as source, \
                _faces_log(args.faces_csv) as log_faces:
            marked = 0
            with _progress("frames", source.frame_count or None) as bar:
                try:
                    # Nobody answers "Are you NAME?" at a terminal: the uncertain band counts as unknown.
                    options = dataclasses.replace(engine.settings.recognition, ask_when_uncertain=False)
                    for result in engine.recognize(source, options):
                        log_faces(result)
                        for event in result.events:
                            who = event.person_name or "unknown"
                            if event.kind is not EventKind.UNKNOWN:
                                marked += 1
                            bar.write(f"{event.time:%Y-%m-%d %H:%M:%S} {event.kind:<9} {who} ({event.similarity:.2f})",
                                      file=sys.stdout)
                        _advance(bar, result.frame.index + 1)
                        if args.max_frames and result.frame.index + 1 >= args.max_frames:
                            break
                except KeyboardInterrupt:
                    stop.set()
        print(f"{marked} marked")
        if engine.site.joined:
            engine.stop_site_sync()
            _final_sync(engine)
        return 0


FACES_CSV_COLUMNS = ("frame", "time_s", "track", "state", "person_id", "name", "similarity", "x1", "y1", "x2", "y2")


@contextlib.contextmanager
def _faces_log(path: str | None):
    """`recognize --faces-csv`: one row per face shown on each frame (what the kiosk saw, for checking)."""
    if not path:
        yield lambda result: None
        return
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(FACES_CSV_COLUMNS)

        def write(result) -> None:
            for face in result.faces:
                writer.writerow([result.frame.index, f"{result.frame.timestamp:.3f}", face.track_id, face.state,
                                 "" if face.person_id is None else face.person_id, face.name or "",
                                 f"{face.similarity:.4f}", *(f"{v:.1f}" for v in face.box[:4])])

        yield write


def _final_sync(engine) -> None:
    """One more sync at the end of `recognize`; a server that is away only leaves events queued."""
    from core.site.connection import SiteError

    try:
        report = engine.sync_site_now().value
        print(f"[site] sent {report.uploaded} events; {report.queue_left} queued", file=sys.stderr)
    except SiteError as exc:
        queued = engine.site_status(check_server=False).queue
        print(f"[site] {exc} {queued} events queued on this station.", file=sys.stderr)


def cmd_report(args) -> int:
    """Every enrolled person's day status; --json prints one object per person (a contract)."""
    with _engine(args) as engine:
        if engine.site.joined and engine.site.role == "admin" and not args.json:
            return _site_report(engine, args.day or engine.site_today())
        day = args.day or engine.site_today()
        rows = engine.day_board(day, args.group)
        if args.json:
            for row in rows:
                print(json.dumps(row.to_json(), ensure_ascii=False))
            return 0
        attended = sum(1 for r in rows if r.status.attended)
        print(f"Attendance on {day.isoformat()}: {attended} people present of {len(rows)} enrolled")
        for row in rows:
            ext = f" [{row.external_id}]" if row.external_id else ""
            seen = f", first {row.first_seen:%H:%M:%S}, last {row.last_seen:%H:%M:%S}" if row.first_seen else ""
            late = f" ({row.late_minutes} min)" if row.late_minutes else ""
            print(f"  {row.name}{ext}: {row.status.value}{late}{seen}")
        return 0


def _site_report(engine, day) -> int:
    """On a site's admin station: who came anywhere on the site, with the kiosks that saw them."""
    rows = engine.day_report(day)
    print(f"Attendance on {day.isoformat()} across the site: {len(rows)} people")
    for row in rows:
        ext = f" [{row.external_id}]" if row.external_id else ""
        kiosks = ", ".join(getattr(row, "kiosks", ()))
        print(f"  {row.name}{ext}: first {row.first_seen:%H:%M:%S}, last {row.last_seen:%H:%M:%S} (kiosk: {kiosks})")
    return 0


def _month(text: str) -> str:
    from core.attendance.schedule import month_key, parse_month

    try:
        return month_key(parse_month(text))
    except RollcallError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(text: str):
    from datetime import datetime

    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time; use \"YYYY-MM-DD HH:MM\" (site time)") from None


def cmd_group(args) -> int:
    with _engine(args) as engine:
        if args.action == "add":
            group = engine.add_group(args.name, args.start, args.end, args.grace, args.days, args.min_hours).value
            s = group.schedule
            night = " (night shift, ends the next day)" if s.crosses_midnight else ""
            print(f"group {group.name}: {s.start:%H:%M}-{s.end:%H:%M}{night}, grace {s.grace_minutes} min, "
                  f"days {s.days_text()}, minimum {s.min_hours:g} h")
            if args.challenge:
                engine.set_group_challenge(group.id, True)
                print(f"group {group.name}: its people answer the liveness challenge before they are marked")
        elif args.action == "challenge":
            group = engine.set_group_challenge(engine.find_group(args.name).id, args.state == "on").value
            print(f"group {group.name}: liveness challenge {'required' if group.require_challenge else 'not required'}")
        elif args.action == "assign":
            group = engine.find_group(args.name)
            for who in args.people:
                person = engine.find_person(who)
                engine.assign_group(person.id, group.id)
                print(f"{person.name} -> {group.name}")
        else:
            for group in engine.groups():
                s = group.schedule
                challenge = ", liveness challenge required" if group.require_challenge else ""
                print(f"{group.name}: {s.start:%H:%M}-{s.end:%H:%M}, grace {s.grace_minutes} min, "
                      f"days {s.days_text()}, minimum {s.min_hours:g} h{challenge}")
        return 0


def _write_snapshots(groups, folder: Path) -> dict[int, Path]:
    """Each group's best face as <folder>/unknown-group-<id>.jpg (owner-only); stale files of earlier listings go."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for old in folder.glob("unknown-group-*.jpg"):
        old.unlink(missing_ok=True)
    paths = {}
    for group in groups:
        path = folder / f"unknown-group-{group.id}.jpg"
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)  # faces: the owner's only
        with os.fdopen(fd, "wb") as out:
            out.write(group.snapshot_jpeg)
        paths[group.id] = path
    return paths


def cmd_unknowns(args) -> int:
    """Unknown visitors, grouped; --json prints one object per group (a contract, see the README)."""
    span = {"first": args.first, "last": args.last}
    with _engine(args) as engine:
        if args.action == "enroll":
            try:
                report = engine.enroll_unknown_group(args.id, args.name, args.group, **span).value
            except DuplicateNameError as exc:
                print(f"error: {exc}\n  to add this group to them: rollcall unknowns assign {args.id} "
                      f"--person ID", file=sys.stderr)
                return 2
            _print_report(report)
            return 0
        if args.action == "assign":
            person = engine.find_person(args.person)
            report = engine.assign_unknown_group(args.id, person.id, **span).value
            print(f"added to {person.name} (id {person.id})")
            _print_report(report)
            return 0
        if args.action == "dismiss":
            dismissed = engine.dismiss_unknown_group(args.id, **span).value
            print(f"dismissed unknown group {args.id}: {dismissed} face{'s' if dismissed != 1 else ''}")
            return 0
        first, last = engine.unknown_range(args.first, args.last)
        groups = engine.unknown_groups(first, last)
        folder = Path(args.snapshots).expanduser() if args.snapshots else engine.settings.data_path / "unknowns"
        paths = _write_snapshots(groups, folder)
        for group in groups:
            if args.json:
                print(json.dumps({"id": group.id, "count": group.count, "first_seen": group.first_seen.isoformat(),
                                  "last_seen": group.last_seen.isoformat(), "sources": list(group.sources),
                                  "snapshot": str(paths[group.id]), "face_ids": list(group.face_ids)}))
            else:
                print(f"{group.id:>6}  {group.count:>3} sighting{'s' if group.count != 1 else ' '}  "
                      f"{group.first_seen:%Y-%m-%d %H:%M} - {group.last_seen:%Y-%m-%d %H:%M}  "
                      f"{', '.join(group.sources)}  {paths[group.id]}")
        if not args.json:
            print(f"{len(groups)} open unknown groups from {first} to {last}" if groups
                  else f"no open unknown groups from {first} to {last}")
        return 0


def cmd_holiday(args) -> int:
    with _engine(args) as engine:
        group = engine.find_group(args.group) if args.group else None
        holiday = engine.add_holiday(args.day, args.name, group.id if group else None).value
        print(f"holiday {holiday.day.isoformat()} ({holiday.name}) for {group.name if group else 'the whole site'}")
        return 0


def cmd_leave(args) -> int:
    with _engine(args) as engine:
        person = engine.find_person(args.person)
        leave = engine.add_leave(person.id, args.first, args.last, args.reason).value
        print(f"leave for {person.name}: {leave.first_day.isoformat()} to {leave.last_day.isoformat()} ({leave.reason})")
        return 0


def cmd_punch(args) -> int:
    with _engine(args) as engine:
        person = engine.find_person(args.person)
        correction = engine.punch(person.id, args.at, args.reason).value
        shown = correction.time.astimezone(engine.site_zone())
        print(f"punch {correction.id}: {person.name} at {shown:%Y-%m-%d %H:%M} ({correction.reason})")
        return 0


def cmd_correct(args) -> int:
    with _engine(args) as engine:
        if args.void:
            correction = engine.void_event(args.event_id, args.reason).value
            print(f"event {args.event_id} voided ({correction.reason})")
        else:
            person = engine.find_person(args.person)
            correction = engine.reassign_event(args.event_id, person.id, args.reason).value
            print(f"event {args.event_id} now counts for {person.name} ({correction.reason})")
        return 0


def cmd_audit(args) -> int:
    with _engine(args) as engine:
        names = {p.person.id: p.person.name for p in engine.people(include_inactive=True)}
        entries = engine.audit_log()
        if args.json:
            for e in entries:
                print(json.dumps({"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action.value,
                                  "subject": e.subject, "person_id": e.person_id, "person": names.get(e.person_id),
                                  "reason": e.reason, "details": e.details}, ensure_ascii=False))
            return 0
        zone = engine.site_zone()
        for e in entries:
            who = f" {names[e.person_id]}" if e.person_id in names else ""
            why = f": {e.reason}" if e.reason else ""
            print(f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S} {e.actor} {e.action.value} {e.subject}{who}{why}")
        print(f"{len(entries)} entries")
        return 0


def cmd_timesheet(args) -> int:
    with _engine(args) as engine:
        path = engine.export_timesheet(args.month, Path(args.out), with_days=args.days)
        print(f"timesheet {args.month} written to {path}")
        return 0


def cmd_lock(args) -> int:
    with _engine(args) as engine:
        if args.command == "lock":
            done = engine.lock_month(args.month).value
            print(f"{args.month} {'locked' if done else 'was already locked'}")
        else:
            done = engine.unlock_month(args.month, args.reason).value
            print(f"{args.month} {'unlocked' if done else 'was not locked'}")
        return 0


def cmd_charts(args) -> int:
    with _engine(args) as engine:
        for path in engine.save_charts(args.month, Path(args.out)):
            print(f"chart: {path}")
        return 0


def cmd_export(args) -> int:
    with _engine(args) as engine:
        end = args.end or args.start
        count = engine.export_csv(Path(args.out), args.start, end)
        print(f"wrote {count} rows to {args.out}")
        return 0


def _site_url(text: str) -> str:
    """The server URL from the argument, or from stdin with `-` (keeps the password out of shell history)."""
    url = sys.stdin.readline().strip() if text == "-" else text
    return url or os.environ.get("ROLLCALL_SITE_URL", "")


def cmd_site(args) -> int:
    from core.site.connection import SiteError

    with _engine(args) as engine:
        if args.action == "init":
            status = engine.site_init(_site_url(args.url), args.station).value
            print(f"admin station {status.station!r} of {status.server}; gallery version {status.gallery_version}")
            return 0
        if args.action == "join":
            status = engine.site_join(_site_url(args.url), args.kiosk).value
            people = engine.stats().people
            print(f"kiosk {status.station!r} of {status.server}; {people} people pulled "
                  f"(gallery version {status.gallery_version})")
            return 0
        if args.action == "leave":
            engine.site_leave(force=args.force)
            print("left the site; this station is standalone again and keeps its local data")
            return 0
        if args.action == "sync":
            with _progress("upload") as bar:
                try:
                    generator = engine.site_sync()
                    while True:
                        step = next(generator)
                        if step.total:
                            _advance(bar, step.done, step.total)
                except StopIteration as done:
                    report = done.value.value
                except SiteError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    print(f"  {engine.site_status(check_server=False).queue} events stay queued on this station",
                          file=sys.stderr)
                    return 3
            pulled = report.pull
            print(f"sent {report.uploaded} events, {report.queue_left} queued; gallery version "
                  f"{pulled.to_version if pulled else '?'} ({pulled.people if pulled else 0} people, "
                  f"{pulled.erased_people if pulled else 0} erased)")
            for model_id in report.models_published:
                print(f"sent model {model_id}'s files to the site server")
            for model_id in report.models_installed:
                print(f"installed model {model_id} from the site server")
            for refused in report.models_refused:
                print(f"error: {refused.reason}", file=sys.stderr)
            return 3 if report.models_refused else 0
        status = engine.site_status()
        if args.json:
            print(json.dumps(status.to_json()))
            return 0
        if status.role == "standalone":
            print("standalone (not part of a site)")
            return 0
        reach = "reachable" if status.reachable else f"NOT reachable: {status.error}"
        print(f"{status.role} {status.station!r} of {status.server}: {reach}")
        print(f"last sync: {status.last_sync.isoformat() if status.last_sync else 'never'}; "
              f"queue: {status.queue} events; gallery version {status.gallery_version}"
              + (f" (server {status.server_gallery_version})" if status.server_gallery_version is not None else ""))
        for station in status.stations:
            seen = station.last_contact.isoformat() if station.last_contact else "never"
            kind = "admin" if station.is_admin else "kiosk"
            print(f"  {kind} {station.name}: last contact {seen}, queue {station.queue_length}, "
                  f"{station.events_on_server} events on the server" + (" (left)" if station.left else ""))
        return 0


def cmd_eval(args) -> int:
    from core.app.evaluate import save_roc_plot
    from core.app.verify import evaluate_pairs

    with _engine(args) as engine:
        with _progress("images") as bar:
            def progress(done: int, total: int) -> None:
                _advance(bar, done, total)

            if _eval_fused(engine, args, progress, bar):  # a fused model: its members and the fusion side by side
                return 0
            report, notes = evaluate_pairs(engine, Path(args.pairs), Path(args.images), progress=progress)
        for note in notes:
            print(f"note: {note}")
        figures = report.to_json()
        folds = f" ({report.folds}-fold)" if report.folds else " (best threshold)"
        std = f" ± {report.accuracy_std:.4f}" if report.accuracy_std else ""
        print(f"pairs: {report.pairs}")
        print(f"accuracy{folds}: {report.accuracy:.4f}{std}")
        print(f"ROC AUC: {report.auc:.4f}")
        print(f"TAR @ FAR=1e-3: {report.tar_at_far_1e3:.4f}")
        print(f"suggested threshold: {report.threshold:.4f}")
        plot = Path(args.plot)
        save_roc_plot(report, plot, f"{engine.active_model_id()} on {Path(args.pairs).name}")
        print(f"ROC plot: {plot}")
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2))
            print(f"figures: {args.json}")
        return 0


def _eval_fused(engine, args, progress, bar) -> bool:
    from core.app import fusion_eval

    side = fusion_eval.evaluate_side_by_side(engine, Path(args.pairs), Path(args.images), progress)
    if side is None:
        return False
    bar.close()
    for line in [*(f"note: {n}" for n in side.notes), *fusion_eval.side_by_side_lines(side)]:
        print(line)
    plot = fusion_eval.save_side_by_side_plot(side, Path(args.plot), f"{engine.active_model_id()} on {Path(args.pairs).name}")
    print(f"ROC plot: {plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(fusion_eval.side_by_side_json(side), indent=2))
        print(f"figures: {args.json}")
    return True


def cmd_models(args) -> int:
    from core.vision.models import BUILTIN_MODELS, DEFAULT_MODEL, IMPORTED_BASE

    if args.action == "add" and not (args.name and args.file):
        print("error: models add needs a new model's name and its weights: "
              "rollcall models add NAME --file WEIGHTS.pt [--size 512]", file=sys.stderr)
        return 2
    with _engine(args) as engine:
        if args.action == "fetch":  # the one explicit, user-started download
            from core.vision.models import ModelRegistry

            name = args.name or DEFAULT_MODEL
            path = ModelRegistry(engine.registry.cache_dir, allow_network=True).ensure_weights(name)
            print(f"{name}: ready at {path}")
            for onnx in engine.export_all_onnx():  # what CPU inference runs from
                print(f"ONNX: {onnx}")
            return 0
        if args.action == "export":
            if not (args.name and args.output):
                print("error: rollcall models export MODEL -o FILE.rollcall-model", file=sys.stderr)
                return 2
            print(f"{engine.export_model_file(args.name, args.output)}: written; install it on a kiosk with "
                  "`rollcall models import FILE`")
            return 0
        if args.action == "import":
            if not args.name:
                print("error: rollcall models import FILE.rollcall-model", file=sys.stderr)
                return 2
            record = engine.import_model_file(args.name).value
            print(f"{record.id}: installed ({record.name}); activate it with: rollcall activate {record.id}")
            return 0
        if args.action == "export-onnx":
            for onnx in engine.export_all_onnx(force=args.force):
                print(f"{onnx}: ready")
            return 0
        if args.action == "add":
            record = engine.add_model(Path(args.file), args.name, args.size, args.preprocessing)
            print(f"{record.id}: registered ({record.embedding_size}-d, weights {record.weights_path}); "
                  f"activate it with: rollcall activate {record.id}")
            return 0
        active = engine.active_model_id()
        for spec in BUILTIN_MODELS.values():
            state = "ready" if engine.registry.is_available(spec.name) else "not downloaded"
            mark = "*" if spec.name == active else " "
            print(f"{mark} {spec.name:<20} {spec.embedding_size}-d  {state}  {spec.title}")
        for record in engine.models():
            if record.id not in BUILTIN_MODELS:
                mark = "*" if record.id == active else " "
                origin = (f"imported from {record.settings.get('source')}" if record.base == IMPORTED_BASE
                          else f"fine-tuned from {record.parent_id}")
                print(f"{mark} {record.id:<20} {record.embedding_size}-d  {origin}")
        from core.app.fusion_setup import status_lines

        print("\n".join(status_lines(engine)))
        return 0


def cmd_calibrate(args) -> int:
    with _engine(args) as engine:
        report = engine.calibration_report(args.target_per_1000)
        if args.json:
            print(json.dumps(report.to_dict()))
        else:
            print("\n".join(report.describe()))
        return 0


def cmd_activate(args) -> int:
    with _engine(args) as engine:
        with _progress("re-embedding") as bar:
            engine.activate_model(args.model, progress=lambda step: _advance(bar, step.done, step.total))
        print(f"active model: {args.model}")
        return 0


def cmd_backup(args) -> int:
    with _engine(args) as engine:
        target = engine.backup(Path(args.out) if args.out else None).value
    print(f"backup written to {target}")
    return 0


def cmd_restore(args) -> int:
    from core.app.engine import Engine
    from core.base.settings import Settings

    restored = Engine.restore(Settings.load(), Path(args.backup) if args.backup else None)
    print(f"restored {restored.backup}; the previous database file is kept as {restored.previous_kept_as}")
    return 0


# ---- parser ----

def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. Plugin commands (the trainer's `train`) are loaded only when `argv` asks for a
    command that is not built in, or for help: importing the trainer costs a kiosk command its start-up."""
    parser = argparse.ArgumentParser(prog="rollcall", description="Face-recognition attendance.")
    parser.add_argument("--home", help="data folder (default: ROLLCALL_HOME or the user data folder)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="compute device")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("enroll", help="enroll one person from photos")
    p.add_argument("name")
    p.add_argument("images", nargs="+", help="photo files of this person")
    p.add_argument("--external-id", help="employee or student number")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--add", action="store_true", help="add the photos to the person with this name")
    group.add_argument("--separate", action="store_true", help="enroll a second person with the same name")
    p.add_argument("--group", help="the group (and so the schedule) the person belongs to")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("import", help="import a folder with one sub-folder of photos per person")
    p.add_argument("folder")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("people", help="list enrolled people")
    p.add_argument("--search")
    p.add_argument("--all", action="store_true", help="include inactive people")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_people)

    p = sub.add_parser("delete", help="delete a person with their photos, embeddings and events")
    p.add_argument("person", help="name or id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("identify", help="identify every face in photos")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per face")
    p.add_argument("--threshold", type=float, help="match threshold (default: settings)")
    p.set_defaults(func=cmd_identify)

    p = sub.add_parser("recognize", help="run recognition on a camera, video file, URL or image folder")
    p.add_argument("source", nargs="?", default="",
                   help="camera index (0), video file, rtsp/http URL or image folder "
                        "(default: the last source used, else the camera in the settings)")
    p.add_argument("--max-frames", type=int, default=0)
    p.add_argument("--liveness", action="store_true",
                   help="mark only faces that move like a live face (refuses a photo held up to the camera)")
    p.add_argument("--threshold", type=float)
    p.add_argument("--faces-csv", metavar="FILE",
                   help="write every face shown on every frame to this CSV (" + ", ".join(FACES_CSV_COLUMNS) + ")")
    p.set_defaults(func=cmd_recognize)

    p = sub.add_parser("report", help="every enrolled person's status on one day")
    p.add_argument("day", nargs="?", type=_parse_day, default=None, help="YYYY-MM-DD (default today at the site)")
    p.add_argument("--group", help="only this group")
    p.add_argument("--json", action="store_true", help="one JSON object per person: name, external_id, group, "
                   "status, first_seen, last_seen, late_minutes, ...")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("group", help="groups (department, class, shift) and their schedules")
    group_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = group_sub.add_parser("add", help="add a group with its schedule")
    add.add_argument("name")
    add.add_argument("--start", required=True, help="HH:MM, site time")
    add.add_argument("--end", required=True, help="HH:MM; at or before the start = a night shift")
    add.add_argument("--grace", type=int, default=0, help="minutes after the start that still count as on time")
    add.add_argument("--days", default="mon-fri", help="working days: mon-fri, mon-sun, sat,sun, ...")
    add.add_argument("--min-hours", type=float, default=0.0, help="hours for a full day (0 = no minimum)")
    add.add_argument("--challenge", action="store_true",
                     help="its people turn their head as asked (liveness challenge) before they are marked")
    challenge = group_sub.add_parser("challenge", help="require the liveness challenge for a group, or stop")
    challenge.add_argument("name")
    challenge.add_argument("state", choices=["on", "off"])
    assign = group_sub.add_parser("assign", help="put people in a group")
    assign.add_argument("name")
    assign.add_argument("people", nargs="+", help="names or ids")
    group_sub.add_parser("list", help="list the groups")
    p.set_defaults(func=cmd_group)

    p = sub.add_parser("unknowns", help="unknown visitors grouped by face: list, enroll, add to a person, dismiss",
                       description="Without an action: list the open groups of unknown faces seen from --from to "
                                   "--to (default: the last review.days_shown days). Each group's best face is "
                                   "written as unknown-group-ID.jpg under --snapshots (default: the data "
                                   "folder's unknowns/, rewritten by each listing); with --json one object per "
                                   "group: id, count, first_seen, last_seen, sources, snapshot (that file's "
                                   "path), face_ids. The actions take a group's id from the same days.")
    span = argparse.ArgumentParser(add_help=False)  # the actions' --from/--to, left unset unless given
    span.add_argument("--from", dest="first", type=_parse_day, default=argparse.SUPPRESS,
                      help="first day, YYYY-MM-DD (default: see above)")
    span.add_argument("--to", dest="last", type=_parse_day, default=argparse.SUPPRESS, help="last day (default today)")
    p.add_argument("--from", dest="first", type=_parse_day, help="first day, YYYY-MM-DD (default: the last "
                                                                 "review.days_shown days)")
    p.add_argument("--to", dest="last", type=_parse_day, help="last day, YYYY-MM-DD (default today)")
    p.add_argument("--json", action="store_true", help="one JSON object per group")
    p.add_argument("--snapshots", help="folder for the groups' snapshot JPEGs (default: <data folder>/unknowns)")
    unknowns_sub = p.add_subparsers(dest="action", metavar="ACTION")
    q = unknowns_sub.add_parser("enroll", parents=[span], help="enroll a group as a new person (its best faces)")
    q.add_argument("id", type=int, help="the group's id, as listed")
    q.add_argument("--name", required=True)
    q.add_argument("--group", help="the schedule group the new person belongs to")
    q = unknowns_sub.add_parser("assign", parents=[span], help="add a group's best faces to an enrolled person")
    q.add_argument("id", type=int)
    q.add_argument("--person", required=True, help="name or id")
    q = unknowns_sub.add_parser("dismiss", parents=[span], help="nobody to enroll: the group leaves the list")
    q.add_argument("id", type=int)
    p.set_defaults(func=cmd_unknowns)

    p = sub.add_parser("holiday", help="holidays for the whole site or one group")
    holiday_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = holiday_sub.add_parser("add", help="add a holiday")
    add.add_argument("day", type=_parse_day, help="YYYY-MM-DD")
    add.add_argument("--name", default="Holiday")
    add.add_argument("--group", help="only this group (default: the whole site)")
    p.set_defaults(func=cmd_holiday)

    p = sub.add_parser("leave", help="leave for one person over a range of days")
    leave_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = leave_sub.add_parser("add", help="add leave")
    add.add_argument("person", help="name or id")
    add.add_argument("first", type=_parse_day, help="first day, YYYY-MM-DD")
    add.add_argument("last", type=_parse_day, help="last day, YYYY-MM-DD (inclusive)")
    add.add_argument("--reason", default="leave")
    p.set_defaults(func=cmd_leave)

    p = sub.add_parser("punch", help="a manual punch (audited; the raw events are not touched)")
    p.add_argument("person", help="name or id")
    p.add_argument("--at", required=True, type=_moment, help='"YYYY-MM-DD HH:MM", site time')
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_punch)

    p = sub.add_parser("correct", help="void an event or count it for another person (audited)")
    p.add_argument("event_id", type=int)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--person", help="the person the event counts for (name or id)")
    target.add_argument("--void", action="store_true", help="the event no longer counts")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_correct)

    p = sub.add_parser("audit", help="the audit log, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object per entry")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("timesheet", help="a month's timesheet as XLSX or CSV")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.add_argument("-o", "--out", required=True, help="FILE.xlsx or FILE.csv")
    p.add_argument("--days", action="store_true", help="XLSX: add a sheet with one row per person per day")
    p.set_defaults(func=cmd_timesheet)

    p = sub.add_parser("lock", help="lock a month once its timesheet is final")
    p.add_argument("month", type=_month, help="YYYY-MM")
    p.set_defaults(func=cmd_lock)

    p = sub.add_parser("unlock", help="unlock a month (audited, with a reason)")
    p.add_argument("month", type=_month, help="YYYY-MM")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_lock)

    p = sub.add_parser("charts", help="save a month's attendance charts as PNG files")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.add_argument("-o", "--out", default=".", help="folder (default: here)")
    p.set_defaults(func=cmd_charts)

    p = sub.add_parser("export", help="export attendance events as CSV")
    p.add_argument("out", help="CSV file to write")
    p.add_argument("--start", type=_parse_day, default=date.today())
    p.add_argument("--end", type=_parse_day)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("site", help="site mode: many stations, one PostgreSQL server")
    site_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = site_sub.add_parser("init", help="make this data folder the site's admin station (creates the schema)")
    q.add_argument("url", help="postgresql://OWNER:PASSWORD@HOST:PORT/DB?sslmode=verify-full, or - to read it "
                               "from stdin")
    q.add_argument("--station", default="admin", help="this admin station's name (default admin)")
    q = site_sub.add_parser("join", help="make this data folder a kiosk of the site and pull the gallery")
    q.add_argument("url", help="the owner's URL (used once, to create this kiosk's own login), or -")
    q.add_argument("--kiosk", required=True, help="this kiosk's name, e.g. north-door")
    site_sub.add_parser("sync", help="one push-and-pull round now")
    q = site_sub.add_parser("status", help="role, server, last sync, queue (and every station, on the admin)")
    q.add_argument("--json", action="store_true")
    q = site_sub.add_parser("leave", help="back to standalone, keeping local data")
    q.add_argument("--force", action="store_true", help="leave even with events not yet on the server")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("eval", help="evaluate the active model")
    eval_sub = p.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    lfw = eval_sub.add_parser("lfw", help="LFW-protocol verification on a pairs file")
    lfw.add_argument("--pairs", required=True, help="pairs.txt (View 2) or pairsDevTest.txt (View 1)")
    lfw.add_argument("--images", required=True, help="folder with <Name>/<Name>_NNNN.jpg")
    lfw.add_argument("--plot", default="roc.png", help="ROC plot PNG (default roc.png)")
    lfw.add_argument("--json", help="write the figures as JSON here")
    lfw.set_defaults(func=cmd_eval)

    p = sub.add_parser("models", help="list, fetch or import embedder models")
    p.add_argument("action", nargs="?", choices=["list", "fetch", "add", "export-onnx", "export", "import"],
                   default="list",
                   help="export-onnx: make the ONNX files CPU inference runs from (MTCNN, each FaceNet "
                   "version), needs torch, run once at setup; export MODEL -o FILE: a trained model as one "
                   ".rollcall-model file; import FILE: install such a file (also on the kiosk edition)")
    p.add_argument("name", nargs="?", help="fetch: a built-in model (default: the default model); add: a new name")
    p.add_argument("--file", help="with add: a state-dict .pt file")
    p.add_argument("--size", type=int, default=512, help="with add: embedding size")
    p.add_argument("--preprocessing", choices=["fixed", "prewhiten"], default="fixed")
    p.add_argument("--force", action="store_true", help="with export-onnx: export again even if the files are good")
    p.add_argument("-o", "--output", help="with export: the .rollcall-model file to write")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("calibrate", help="strangers per 1,000 marked at the current threshold, and the "
                                         "threshold for a target")
    p.add_argument("--target-per-1000", type=float, default=None,
                   help="strangers per 1,000 to aim for (default: the recognition setting)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("activate", help="switch to another model version (re-embeds the gallery)")
    p.add_argument("model")
    p.set_defaults(func=cmd_activate)

    p = sub.add_parser("backup", help="write a backup copy of the database now")
    p.add_argument("out", nargs="?", help="file to write (default: the backups folder)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the database with a backup (the current file is kept)")
    p.add_argument("backup", nargs="?", help="backup file (default: the newest automatic backup)")
    p.set_defaults(func=cmd_restore)

    if _requested_command(argv) not in sub.choices:
        for register in command_plugins():
            register(sub)
    return parser


def _requested_command(argv: list[str] | None) -> str | None:
    """The sub-command named in argv (skipping global options and their values), or None."""
    argv = sys.argv[1:] if argv is None else argv
    with_value = {"--home", "--device"}
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in with_value:
            skip = True
        elif token.startswith("-"):
            continue
        else:
            return token
    return None


PLUGIN_GROUP = "rollcall.commands"


def command_plugins() -> list:
    """Commands contributed by installed packages (the trainer's `train`) through entry points.

    The core never imports the trainer: the full edition declares it in pyproject.toml, and the
    kiosk edition, which has no trainer, simply has no such entry point.
    """
    from importlib.metadata import entry_points

    plugins = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugins.append(entry.load())
        except ImportError as exc:  # a partial install: say so, keep the other commands
            logging.getLogger(__name__).warning("Command plugin %s unavailable: %s", entry.name, exc)
    return plugins


def is_command_line(args: list[str]) -> bool:
    """Whether an installed app's arguments ask for the command line (a command, or help) rather than
    the window (no arguments, --kiosk, --self-test). Decided before Qt is imported."""
    return bool(args) and (not args[0].startswith("-") or args[0] in ("-h", "--help", "--version"))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.home:
        os.environ["ROLLCALL_HOME"] = str(Path(args.home).expanduser())
    try:
        return int(args.func(args) or 0)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.kind.restore_helps:
            print("  to restore the newest automatic backup: rollcall restore", file=sys.stderr)
        return 2
    except RollcallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
