"""Numbers and words a person can read, and the smaller defects of the window: match strength instead of raw
scores, a timing line with real figures, "forever" for a zero retention, one threshold in the active model's
units, plurals, the demo note, the Site page in the dialog's own words, Enroll's bad sample and group."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QLineEdit  # noqa: E402

from tests.kits.paths import dev_people, dev_photos  # noqa: E402

UNREACHABLE_SERVER = "postgresql://owner@127.0.0.1:9/site?connect_timeout=2"  # the discard port: nothing listens


def test_plural_and_match_strength():
    from gui.text import match_strength, plural

    assert [plural(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert plural(1, "person") == "1 person" and plural(3, "person") == "3 people"
    assert plural(2, "face sample") == "2 face samples"
    # FaceNet cosines against 0.55, and a fused z-score against 3.167: the same words for the same standing
    assert match_strength(0.80, 0.55) == match_strength(4.59, 3.167) == "strong match"
    assert match_strength(0.56, 0.55) == "match"
    assert match_strength(0.47, 0.55) == "near match"
    assert match_strength(-1.0, 3.167) == "no match"


def test_face_labels_say_what_the_score_means():
    import numpy as np

    from core.live.recognize import FaceResult, FaceState
    from gui.panels.recognize import face_overlay

    box = np.array([0, 0, 10, 10], dtype=np.float32)
    known = FaceResult(1, box, FaceState.KNOWN, name="Lin-Manuel Miranda", similarity=4.59)
    unknown = FaceResult(2, box, FaceState.UNKNOWN, similarity=-1.0)
    assert face_overlay(known, 3.167).label == "Lin-Manuel Miranda · strong match"
    assert face_overlay(unknown, 3.167).label == "Unknown"


def test_timing_line_shows_real_figures_at_30_fps():
    from gui.live import StageMeter

    meter = StageMeter()
    for frame in range(32):  # the detector runs on every 8th frame; the tracker carries the rest
        detect = frame % 8 == 0
        meter.add({"total": 0.042 if detect else 0.0006, **({"detect": 0.040} if detect else {})})
    assert meter.text() == "face detection 40 ms · work per frame 5.8 ms on average"


def test_settings_say_forever_none_and_one_threshold(qtbot, window, engine):
    from gui.settings_dialog import SettingsDialog, uses_cosine_threshold

    engine.settings.storage.retention_days = 0
    engine.settings.storage.backups_kept = 0
    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.retention_days.text() == "forever" and dialog.backups_kept.text() == "none"
    dialog.retention_days.setValue(30)
    assert dialog.retention_days.text() == "30 days"
    scored_as = engine.matcher().model_id
    cosine = uses_cosine_threshold(scored_as)
    assert dialog.threshold.isVisibleTo(dialog) == cosine and dialog.margin.isVisibleTo(dialog) == cosine
    assert "active model's own score" in dialog.threshold_note.text()
    assert uses_cosine_threshold("facenet-keras-128") and not uses_cosine_threshold("facenet-keras-128+sface")


def test_site_page_keeps_the_address_and_speaks_in_buttons(qtbot, window, engine, dialogs):
    from gui.settings_dialog import SettingsDialog
    from gui.site_settings import in_dialog_words, with_password

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    assert dialog.site_url.echoMode() == QLineEdit.EchoMode.Normal
    assert dialog.site_password.echoMode() == QLineEdit.EchoMode.Password
    dialog.site_url.setText(UNREACHABLE_SERVER)
    dialog.site_password.setText("secret")
    dialog.init_button.click()
    qtbot.waitUntil(lambda: dialog.site_job is None, timeout=30_000)
    errors = dialogs.errors()
    assert len(errors) == 1
    assert "`rollcall" not in errors[0] and "sent when the server is back" not in errors[0]
    assert "still standalone" in errors[0] and "secret" not in errors[0]
    assert dialog.site_url.text() == UNREACHABLE_SERVER  # kept, to be corrected
    assert in_dialog_words("run `rollcall site leave` first.") == "press \u201cLeave the site\u201d first."
    assert "password=secret" in with_password("postgresql://owner@server/site", "secret")
    assert with_password("postgresql://owner:kept@server/site", "other") == "postgresql://owner:kept@server/site"


def test_demo_note_leaves_when_another_source_is_chosen(qtbot, window, tmp_path):
    panel = window.recognize_panel
    picker = panel.source_picker
    if not picker.note:
        pytest.skip("a webcam is connected: no note to show")
    assert panel.note_label.isVisible()
    clip = tmp_path / "door.mp4"
    clip.write_bytes(b"")
    picker.set_spec(str(clip))
    assert not panel.note_label.isVisible()
    if picker.note_spec:
        picker.set_spec(picker.note_spec)
        assert panel.note_label.isVisible()


def test_enroll_removes_a_bad_sample_sets_the_group_and_reports_on_the_capture_tab(qtbot, window, engine):
    from gui.panels.enroll import CaptureStep

    person = dev_people()[0]
    group = engine.add_group("Morning", "08:00", "16:00").value
    panel = window.show_panel("enroll")
    panel.fill_groups()
    panel.tabs.setCurrentIndex(0)
    panel.name_edit.setText("New Starter")
    panel.group_box.setCurrentIndex(panel.group_box.findData(group.id))
    for photo in dev_photos(person)[:3]:
        sample = engine.enroller().candidate_from_file(photo)
        panel._on_capture_step(CaptureStep(None, [], "Good", True, sample))
    assert len(panel.samples) == 3 and not panel.remove_sample_button.isEnabled()
    panel.sample_strip.item(1).setSelected(True)
    assert panel.remove_sample_button.isEnabled()
    panel.remove_sample_button.click()
    assert len(panel.samples) == 2 and panel.sample_strip.count() == 2
    assert "Removed 1 sample; 2 left." == panel.capture_status.text()
    panel.undo_remove_button.click()
    assert len(panel.samples) == 3 and panel.sample_strip.count() == 3 and not panel.undo_remove_button.isVisible()
    panel.sample_strip.item(1).setSelected(True)
    panel.remove_sample_button.click()
    assert panel.undo_remove_button.isVisible()
    panel.save_button.click()
    qtbot.waitUntil(lambda: panel.job is None, timeout=60_000)
    saved = next(o.person for o in engine.people() if o.person.name == "New Starter")
    assert len(engine.samples(saved.id)) == 2
    assert engine.person_group(saved.id).id == group.id
    assert "2 samples saved" in panel.capture_status.text() and "in the group Morning" in panel.capture_status.text()
    assert panel.summary_label.text() == ""  # the import tab says nothing about a capture


def test_a_group_made_from_the_command_line_is_listed_when_the_panel_shows(qtbot, window, engine):
    from core.app.engine import Engine
    from core.base.settings import Settings

    ada = engine.store.add_person("Ada")
    people = window.show_panel("people")
    qtbot.waitUntil(lambda: not people.is_refreshing(), timeout=30_000)
    people.refresh()  # the store was written directly: no change was published
    qtbot.waitUntil(lambda: people.names() == ["Ada"], timeout=30_000)
    people.select_person(ada.id)
    window.show_panel("recognize")
    with Engine(Settings()) as cli:  # another process's engine on the same data folder: no change reaches us
        cli.add_group("Night shift", "22:00", "06:00")
    window.show_panel("people")
    assert people.group_box.findText("Night shift") >= 0
    enroll = window.show_panel("enroll")
    assert enroll.group_box.findText("Night shift") >= 0


def test_calibration_caption_sits_below_its_chart(qtbot, window, engine):
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.resize(min(dialog.width(), 1024), min(dialog.height(), 700))
    qtbot.wait(50)
    view = dialog.calibration
    assert view.summary.text()
    assert view.summary.geometry().top() >= view.plot.geometry().bottom()
    assert view.summary.height() >= view.summary.heightForWidth(view.summary.width())


def test_switching_the_model_in_settings_asks_first_and_names_the_consequence(qtbot, window, engine, dialogs):
    from PySide6.QtWidgets import QMessageBox

    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    other = next(i for i in range(dialog.model.count()) if dialog.model.itemData(i) != engine.active_model_id())
    dialog.model.setCurrentIndex(other)
    dialogs.question_answer = QMessageBox.StandardButton.No
    dialog.accept()
    asked = [text for kind, text in dialogs.shown if kind == "question"]
    assert len(asked) == 1 and "re-embedded" in asked[0] and "switch back" in asked[0]
    assert dialog.result() != SettingsDialog.DialogCode.Accepted  # No: nothing saved, the dialog stays open
    dialogs.question_answer = QMessageBox.StandardButton.Yes
    dialog.accept()
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    assert dialog.model_to_activate == dialog.model.itemData(other)
