"""Trained models' files inside a sync round: an admin station publishes the packages the server lacks,
a kiosk downloads and installs the ones it has the record of but not the files."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Generator
from pathlib import Path

from core.base.errors import Cancelled, RollcallError
from core.gallery.store import GalleryStore
from core.site import gallery as site_gallery
from core.site import packages as site_packages
from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg
from core.site.records import ModelRefused, SyncProgress, SyncStage

log = logging.getLogger(__name__)


def upload_package(conn: psycopg.Connection, files: site_packages.ModelFiles, data_dir: Path, model_id: str,
                   onnx: Path, part_bytes: int) -> None:
    """Write the model's `.rollcall-model` package to a temporary folder and put it on the server."""
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".model-upload-") as folder:
        package = files.write_package(model_id, Path(folder) / model_id)
        site_packages.upload(conn, model_id, onnx.name, package, part_bytes)


def publish_missing(conn: psycopg.Connection, files: site_packages.ModelFiles | None, data_dir: Path,
                    part_bytes: int) -> Generator[SyncProgress, None, tuple[str, ...]]:
    """An admin station uploads the files of its models whose package the server lacks (or has of
    another export): a publish that failed earlier, or models from before the site existed."""
    if files is None:
        return ()
    shared = files.shared()
    with conn.transaction():  # a package needs its record on the server (pushed before)
        on_server = {r[0] for r in conn.execute("SELECT id FROM models WHERE id = ANY(%s)", [shared])}
    packages = site_packages.headers(conn, shared)
    wanted = [(m, onnx) for m in shared if m in on_server and (onnx := files.onnx(m)) is not None
              and (m not in packages or packages[m].onnx_name != onnx.name)]
    for number, (model_id, onnx) in enumerate(wanted):
        yield SyncProgress(SyncStage.PUBLISH_MODELS, number, len(wanted), model_id)
        upload_package(conn, files, data_dir, model_id, onnx, part_bytes)
    return tuple(m for m, _ in wanted)


def fetch_models(conn: psycopg.Connection, store: GalleryStore, files: site_packages.ModelFiles | None,
                 data_dir: Path, cancel: Callable[[], bool] | None
                 ) -> Generator[SyncProgress, None, tuple[tuple[str, ...], tuple[ModelRefused, ...]]]:
    """A kiosk downloads and installs the files of every model it has the record of but not the files,
    when the server has them (the site's active model first)."""
    if files is None:
        return (), ()
    active = (store.meta_value(site_gallery.ACTIVE_MODEL_KEY) or "").split("+")[0]  # a fused one's FaceNet
    missing = sorted((m for m in files.shared() if files.onnx(m) is None), key=lambda m: m != active)
    if not missing:
        return (), ()
    packages = site_packages.headers(conn, missing)
    installed, refused = [], []
    for model_id in (m for m in missing if m in packages):
        package = None
        try:
            downloading = site_packages.download(conn, model_id, data_dir, cancel)
            while True:
                try:
                    step = next(downloading)
                except StopIteration as done:
                    package = done.value
                    break
                yield SyncProgress(SyncStage.MODELS, step.done_bytes, step.total_bytes, model_id)
            files.install(model_id, package)
            installed.append(model_id)
        except Cancelled:
            raise
        except SiteError as exc:
            if exc.problem is not SiteProblem.MODEL_FILES:
                raise
            refused.append(ModelRefused(model_id, str(exc)))
        except RollcallError as exc:  # the package's files failed their own checks
            refused.append(ModelRefused(model_id, f"Model {model_id} from the site server was not installed: "
                                                  f"{exc}"))
        finally:
            if package is not None:
                package.unlink(missing_ok=True)
    for refusal in refused:
        log.error("%s", refusal.reason)
    return tuple(installed), tuple(refused)
