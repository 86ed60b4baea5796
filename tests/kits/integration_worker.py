"""Delivers a gallery's integration outbox in rounds until it is killed, printing what each round did.

Run by tests/integrations/test_integrations_faults.py: python tests/kits/integration_worker.py DB_PATH DATA_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.integrations.delivery import DeliveryRound  # noqa: E402
from core.integrations.outbox import DeliveryPolicy  # noqa: E402


def main() -> None:
    db_path, data_dir = Path(sys.argv[1]), Path(sys.argv[2])
    policy = DeliveryPolicy(first_retry_s=0.0, max_backoff_s=0.0, timeout_s=2.0, batch=20)
    delivery = DeliveryRound(db_path, data_dir, ZoneInfo("Europe/Berlin"), "crash-station", policy)
    print("ready", flush=True)
    while True:
        generator = delivery.run()
        try:
            while True:
                next(generator)
        except StopIteration as done:
            report = done.value
        print(f"round {report.delivered} {report.dead}", flush=True)
        if report.delivered == 0:
            print("idle", flush=True)


if __name__ == "__main__":
    main()
