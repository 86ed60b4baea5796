"""The Review scene: strangers (dev people never enrolled) seen by the real recognizer at two doors,
the north at 08:00 and the south at 17:00, so that each is kept twice and grouped."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2

from scripts.shots.common import HOME, Shot, dev_photos, engine_in, main_window, wait, wait_until

ENROLLED = ["Colin_Powell", "Laura_Bush", "Tony_Blair", "Serena_Williams", "Vladimir_Putin"]
STRANGERS = ["Naomi_Watts", "Hugo_Chavez", "Jackie_Chan", "Amelie_Mauresmo"]
FPS, SECONDS_PER_PHOTO = 8, 1.5


def video(path: Path, shown: list[Path]) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (250, 250))
    for photo in shown:
        frame = cv2.resize(cv2.imread(str(photo)), (250, 250))
        for _ in range(round(FPS * SECONDS_PER_PHOTO)):
            writer.write(frame)
    writer.release()
    return path


def populate(engine) -> None:
    from core.attendance.book import AttendanceBook
    from core.live.recognize import Recognizer, recognize_source

    for name in ENROLLED:
        engine.enroll_files(name.replace("_", " "), dev_photos(name)[:4])
    today = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    for door, hour, picks in (("north door", 8, range(0, 2)), ("south door", 17, range(2, 4))):
        clip = video(HOME / f"{door}.mp4", [dev_photos(name)[k] for k in picks for name in STRANGERS])
        start = time.monotonic()

        def clock(hour=hour, start=start):
            return today + timedelta(hours=hour, seconds=(time.monotonic() - start) * 60)

        book = AttendanceBook(engine.store, engine.settings.attendance, clock=clock)
        recognizer = Recognizer(
            engine.parts,
            engine.settings.recognition,
            book,
            source_name=door,
            tracking=engine.settings.tracking,
            enrollment=engine.settings.enrollment,
        )
        with engine.open_source(str(clip)) as source:
            for _ in recognize_source(recognizer, source):
                pass


def take(pages: list[str], shot: Shot) -> None:
    engine = engine_in("review")
    populate(engine)
    with main_window(engine, shot) as window:
        panel = window.show_panel("review")
        wait_until(lambda: not panel.is_refreshing() and panel.group_list.count() > 0)
        biggest = max(panel.groups, key=lambda g: (g.count, g.last_seen))
        panel.select_group(biggest.id)
        wait(800)
        if "review" in pages:
            shot.save(window, "review")
        if "review-added" in pages:  # "Add to person" done (wrongly, as it happens): Undo is offered beside it
            panel.assign_current(person_id=engine.find_person("Colin Powell").id)
            wait_until(lambda: panel.job is None)
            wait(400)
            shot.save(window, "review-added")
        if "review-dismissed" in pages:  # the Dismissed visitors dialog, after one group is dismissed
            if panel.groups:
                panel.select_group(panel.groups[-1].id)
                panel.dismiss_current(ask=False)
                wait_until(lambda: panel.job is None)
            dialog = panel.open_dismissed()
            wait(400)
            shot.save(dialog, "review-dismissed")
            dialog.reject()
