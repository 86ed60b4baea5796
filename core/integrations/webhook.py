"""Signed webhooks: a JSON POST per event, correction and day status change.

The body: {"id": <the record's UUID, the same on every retry>, "type": "event" | "correction" |
"day_status", "data": {person, kind, time (ISO 8601 with offset), station, ...}}.
The header `Rollcall-Signature: t=<unix seconds>,v1=<hex>` is HMAC-SHA256 with the secret over
"<t>.<raw body>", as Stripe signs its webhooks: a receiver checks it and refuses an old t (replays).
Any 2xx is delivered; 408, 429 and 5xx are retried; any other answer is a dead letter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from core.integrations.http import Answer, TargetUnreachable, Verdict, http_verdict, request
from core.integrations.outbox import Message
from core.integrations.targets import Target

SIGNATURE_HEADER = "Rollcall-Signature"
PING_TYPE = "ping"  # `rollcall integrations test`: a signed body that records nothing


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> bool:
    """The receiver's check (tests and docs/integrations.md use it): a v1 signature matches, t is recent."""
    parts = [item.split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance_s:
        return False
    expected = signature(secret, int(stamps[0]), body)
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in parts)


def body(message: Message) -> bytes:
    return json.dumps(
        {"id": message.uuid, "type": message.type.value, "data": message.record()},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class WebhookClient:
    def __init__(self, target: Target, secret: str, timeout_s: float, clock: Callable[[], float] = time.time):
        self.target, self.secret, self.timeout_s, self.clock = target, secret, timeout_s, clock

    def _post(self, raw: bytes, idempotency_key: str) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            SIGNATURE_HEADER: signature_header(self.secret, int(self.clock()), raw),
        }
        reply = request(self.target.url, raw, headers, self.timeout_s, self.target.verify_tls)
        verdict = http_verdict(reply.status)
        detail = "" if verdict is Verdict.DELIVERED else f"HTTP {reply.status}: {reply.text[:500]}"
        return Answer(verdict, detail)

    def deliver(self, message: Message) -> Answer:
        return self._post(body(message), message.uuid)

    def check(self) -> str:
        """One signed ping; a receiver that answers 2xx has checked nothing is recorded."""
        raw = json.dumps({"id": "ping", "type": PING_TYPE, "data": {}}).encode()
        answer = self._post(raw, "ping")
        if answer.verdict is not Verdict.DELIVERED:
            raise TargetUnreachable(f"{self.target.url} answered the ping: {answer.detail}")
        return f"{self.target.url} accepted a signed ping"
