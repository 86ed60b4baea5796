"""A kiosk process for the SIGKILL test: prints `ready` once connected, then uploads its outbox in
small batches, round after round, until it is killed. It prints `sent` after each batch the server
took, so the test can kill it in the middle of an upload on a fast machine as on a slow one."""

from __future__ import annotations

import sys
from pathlib import Path

from core.base.settings import SiteSettings
from core.site.service import SyncStage
from tests.kits.site_kit import station

BATCH = 7  # small batches: many transactions, so a kill lands in the middle of one


def main(folder: str) -> None:
    site = station(Path(folder), SiteSettings(upload_batch=BATCH, connect_timeout_s=5))
    site.status()  # connects
    print("ready", flush=True)
    while True:
        for step in site.sync():
            if step.stage is SyncStage.UPLOAD and step.done:
                print("sent", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
