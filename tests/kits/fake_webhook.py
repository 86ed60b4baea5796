"""A real webhook receiver on 127.0.0.1 that checks each Rollcall-Signature as docs/integrations.md tells a
receiver to (HMAC-SHA256 over "<t>.<raw body>", t within five minutes), refuses a bad one with 400, and keeps
every accepted body; a receiver deduplicates by `id`, as `unique` does here."""

from __future__ import annotations

import json
import time

from core.integrations.webhook import SIGNATURE_HEADER, verify
from tests.kits.fake_target import FakeTarget


class FakeWebhook(FakeTarget):
    def __init__(self, secret: str = "whsec_test"):
        super().__init__()
        self.secret = secret
        self.received: list[dict] = []
        self.bad_signatures = 0
        self.refused: list[tuple[dict[str, str], bytes]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if not verify(self.secret, headers.get(SIGNATURE_HEADER, ""), body, time.time() + self.clock_offset_s):
            self.bad_signatures += 1
            self.refused.append((headers, body))  # shown by a failing test
            return 400, {"error": "bad signature"}
        self.received.append(json.loads(body))
        return 200, {"ok": True}

    def unique(self, type: str | None = None) -> dict[str, dict]:
        return {item["id"]: item for item in self.received if type is None or item["type"] == type}
