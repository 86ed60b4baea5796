"""A trained model's files travel through the site server (real PostgreSQL, a really trained model): the
admin station publishes the `.rollcall-model` package when it imports or activates the model, and every
kiosk installs it at its next sync, checked, and then recognises with it."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import psycopg
import pytest

from core.app.engine import Engine
from core.base.errors import Cancelled
from core.base.settings import Settings, SiteSettings
from core.site.connection import load_credentials
from core.site.service import SyncStage
from core.vision.fused import model_input
from core.vision.images import load_image
from core.vision.models import DEFAULT_MODEL, ModelRegistry
from core.vision.onnx_files import verify_onnx
from tests.kits.paths import dev_people, dev_photos
from tests.kits.site_kit import MODEL, admin_and_kiosk

from tests.kits.onnx import copy_models


ENROLLED = 2  # dev people enrolled on the admin station
PHOTOS = 3  # photos each; photo 5 is then identified on the kiosk


def make_engine(folder: Path) -> Engine:
    settings = Settings()
    settings.storage.data_dir = str(folder / "home")
    settings.storage.backups_kept = 0
    settings.site = SiteSettings(sync_interval_s=60.0, connect_timeout_s=2)
    settings.compute.active_model = DEFAULT_MODEL
    settings.compute.tune_for_cpu = False  # the tuned copies are another test's concern
    return Engine(settings, registry=ModelRegistry(copy_models(folder / "models")))


def sync(engine: Engine, cancel=None):
    """One sync round: (report, progress steps)."""
    steps, generator = [], engine.site_sync(cancel)
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as done:
            return done.value.value, steps


def package_members(path: Path) -> dict[str, str]:
    """The files a package holds (not its record), by sha256."""
    with zipfile.ZipFile(path) as archive:
        return {n: hashlib.sha256(archive.read(n)).hexdigest() for n in archive.namelist() if n != "model.json"}


def installed_files(engine: Engine, model_id: str) -> list[Path]:
    return sorted(Path(engine.registry.cache_dir).glob(f"{model_id}*"))


@pytest.fixture
def site(pg, tmp_path, default_weights):
    cluster, url = pg
    admin, kiosk = make_engine(tmp_path / "admin"), None
    try:
        admin.site_init(url)
        kiosk = make_engine(tmp_path / "kiosk")
        kiosk.site_join(url, "north door")
        yield url, admin, kiosk
    finally:
        admin.close()
        if kiosk is not None:
            kiosk.close()


def test_a_model_imported_on_the_admin_station_reaches_the_kiosk_which_recognises_with_it(site, trained_file):
    url, admin, kiosk = site
    path, model_id = trained_file
    people = dev_people()[:ENROLLED]
    for person in people:
        admin.enroll_files(person.name.replace("_", " "), dev_photos(person)[:PHOTOS])
    assert not installed_files(kiosk, model_id)
    admin.import_model_file(path)
    with psycopg.connect(url) as conn:  # the whole package is on the server, in several parts
        size, sha256, parts = conn.execute("SELECT size, sha256, parts FROM model_packages WHERE model_id = %s",
                                           [model_id]).fetchone()
        data = b"".join(bytes(r[0]) for r in conn.execute(
            "SELECT data FROM model_package_parts WHERE model_id = %s ORDER BY part", [model_id]))
    assert parts > 1 and len(data) == size and hashlib.sha256(data).hexdigest() == sha256
    admin.activate_model(model_id)

    report, steps = sync(kiosk)
    assert report.models_installed == (model_id,) and report.models_refused == ()
    downloaded = [s for s in steps if s.stage is SyncStage.MODELS]
    assert downloaded[-1].done == downloaded[-1].total == size and {s.model_id for s in downloaded} == {model_id}
    members = package_members(path)
    models = Path(kiosk.registry.cache_dir)
    assert {f.name for f in installed_files(kiosk, model_id)} == set(members)
    for name, digest in members.items():
        assert hashlib.sha256((models / name).read_bytes()).hexdigest() == digest
    verify_onnx(models / next(n for n in members if n.endswith(".onnx")))
    assert not (models / f"{model_id}.pt").exists()  # the kiosk has the ONNX export only
    assert not [p for p in Path(kiosk.settings.data_path).iterdir() if "download" in p.name]

    # the site's active model runs on the kiosk now, without a restart
    assert kiosk.active_model_id() == model_id
    embedder = kiosk.embedder()
    assert embedder.backend == "onnx"
    person = people[0]
    rgb = load_image(dev_photos(person)[5])
    faces = kiosk.detector.detect(rgb)
    results = kiosk.matcher().match(embedder.embed([model_input(embedder, rgb, faces[0])]))
    assert results[0].name == person.name.replace("_", " ")

    # a second sync finds the files present and downloads nothing
    again, steps = sync(kiosk)
    assert again.models_installed == () and not [s for s in steps if s.stage is SyncStage.MODELS]
    assert kiosk.active_model_id() == model_id


def test_a_damaged_copy_on_the_server_installs_nothing_and_a_new_upload_installs(site, trained_file):
    url, admin, kiosk = site
    path, model_id = trained_file
    admin.import_model_file(path)
    admin.activate_model(model_id)  # the whole site switches to it
    with psycopg.connect(url) as conn:  # the superuser damages one part, keeping its length
        conn.execute("UPDATE model_package_parts SET data = overlay(data PLACING '\\xdeadbeef'::bytea FROM 100)"
                     " WHERE model_id = %s AND part = 1", [model_id])
    report, _ = sync(kiosk)
    assert report.models_installed == ()
    assert [r.model_id for r in report.models_refused] == [model_id]
    reason = report.models_refused[0].reason
    assert model_id in reason and "damaged" in reason and "sha256" in reason
    assert kiosk.site_status(check_server=False).error == reason
    assert not installed_files(kiosk, model_id)
    assert not [p for p in Path(kiosk.settings.data_path).iterdir() if "download" in p.name]
    assert kiosk.active_model_id() == DEFAULT_MODEL  # the record came, the files did not: no switch yet

    assert admin.publish_model(model_id)  # uploaded again; the kiosk installs it at its next sync
    report, _ = sync(kiosk)
    assert report.models_installed == (model_id,) and report.models_refused == ()
    assert kiosk.site_status(check_server=False).error is None
    assert kiosk.active_model_id() == model_id  # and switches to it now
    assert {f.name for f in installed_files(kiosk, model_id)} == set(package_members(path))


def test_a_cancelled_download_installs_nothing_and_the_next_sync_fetches_it(site, trained_file):
    url, admin, kiosk = site
    path, model_id = trained_file
    person = dev_people()[0]
    name = person.name.replace("_", " ")
    assert name not in kiosk.matcher().names.values()  # the kiosk's matcher, built before the round
    admin.enroll_files(name, dev_photos(person)[:PHOTOS])
    admin.import_model_file(path)
    seen: list[int] = []
    generator = kiosk.site_sync(cancel=lambda: len(seen) >= 2)
    with pytest.raises(Cancelled):
        for step in generator:
            if step.stage is SyncStage.MODELS:
                seen.append(step.done)
    assert not installed_files(kiosk, model_id)
    assert not [p for p in Path(kiosk.settings.data_path).iterdir() if "download" in p.name]
    # The round stopped after its gallery pull: the person it brought is recognised all the same.
    assert name in kiosk.matcher().names.values()
    report, _ = sync(kiosk)
    assert report.models_installed == (model_id,)


def test_a_kiosk_reads_model_packages_but_cannot_write_them(pg, tmp_path):
    from core.site import packages

    cluster, url = pg
    admin, kiosk = admin_and_kiosk(url, tmp_path, "south door")
    try:
        package = tmp_path / "pkg.rollcall-model"
        package.write_bytes(b"x" * 3000)
        with psycopg.connect(url, autocommit=True) as conn:
            header = packages.upload(conn, MODEL.id, "m.onnx", package, part_bytes=1000)
        assert header.parts == 3
        with psycopg.connect(load_credentials(tmp_path / "kiosk").url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM model_package_parts").fetchone()[0] == 3
            assert conn.execute("SELECT sha256 FROM model_packages").fetchone()[0] == header.sha256
            for statement in ("DELETE FROM model_packages", "UPDATE model_packages SET sha256 = repeat('0', 64)",
                              "INSERT INTO model_packages (model_id, onnx_name, sha256, size, parts) VALUES"
                              " ('facenet-keras-128', 'x', repeat('0', 64), 1, 1)",
                              "DELETE FROM model_package_parts", "UPDATE model_package_parts SET data = 'x'",
                              "INSERT INTO model_package_parts (model_id, part, data) VALUES"
                              " ('facenet-keras-128', 9, 'x')", "TRUNCATE model_package_parts"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM model_package_parts").fetchone()[0] == 3
    finally:
        admin.close()
        kiosk.close()


def test_a_model_trained_on_the_admin_station_is_published(pg, eight_people, tmp_path):  # noqa: F811
    from tests.kits.training import TINY, engine_from
    from trainer.job import TrainConfig, run_training

    cluster, url = pg
    admin = engine_from(eight_people, tmp_path)
    try:
        admin.site_init(url)
        result = run_training(admin, TrainConfig(**TINY, learning_rate=1e-3, margin=1.0, lfw=False))
        assert result.saved
        with psycopg.connect(url) as conn:
            onnx_name, parts = conn.execute("SELECT onnx_name, parts FROM model_packages WHERE model_id = %s",
                                            [result.model_id]).fetchone()
        assert onnx_name == admin._model_onnx_here(result.model_id).name and parts > 1
    finally:
        admin.close()
