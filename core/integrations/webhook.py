"""Signed webhooks: a JSON POST per event, correction and day status change.

The body: {"id": <the record's UUID, the same on every retry>, "type": "event" | "correction" |
"day_status", "data": {person, kind, time (ISO 8601 with offset), station, ...}}.
The header `Rollcall-Signature: t=<unix seconds>,v1=<hex>` is HMAC-SHA256 with the secret over
"<t>.<raw body>", as Stripe signs its webhooks: a receiver checks it and refuses an old t (replays).
Any 2xx is delivered; 408, 429 and 5xx are retried; any other answer is a dead letter, except a 4xx from a
receiver whose clock (its Date header) is further from this station's than `clock_skew_s`: a receiver refuses
an old `t`, so that is retried, and `integrations status` warns about the clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime

from core.integrations.http import CLOCK_SKEW, Answer, HttpReply, TargetUnreachable, Verdict, http_verdict, request
from core.integrations.outbox import Message
from core.integrations.targets import Target

SIGNATURE_HEADER = "Rollcall-Signature"
PING_TYPE = "ping"  # `rollcall integrations test`: a signed body that records nothing


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> bool:
    """The receiver's check (tests and docs/integrations.md use it): one t, recent; any v1 matches. Compared as
    bytes, so a v1 that is not ASCII is a mismatch, not a TypeError."""
    parts = [item.strip().split("=", 1) for item in header.split(",") if "=" in item]
    stamps = [value for key, value in parts if key == "t"]
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()) or abs(now - int(stamps[0])) > tolerance_s:
        return False
    expected = signature(secret, int(stamps[0]), body).encode()
    return any(key == "v1" and hmac.compare_digest(value.encode(), expected) for key, value in parts)


def body(message: Message) -> bytes:
    return json.dumps(
        {"id": message.uuid, "type": message.type.value, "data": message.record()},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


def clock_skew(reply: HttpReply, now: float, limit_s: float, url: str) -> str | None:
    """A warning when the answer's Date header is further than limit_s from this station's clock."""
    if reply.date is None:
        return None
    skew = now - reply.date.timestamp()
    if abs(skew) <= limit_s:
        return None
    side = "ahead of" if skew > 0 else "behind"
    return (
        f"{CLOCK_SKEW}: this station's clock is {abs(skew):.0f} s {side} {url}'s (its Date header), and a "
        f"receiver refuses an old signature (HTTP {reply.status}); set the clock (NTP). Retried until then."
    )


class WebhookClient:
    def __init__(
        self,
        target: Target,
        secret: str,
        timeout_s: float,
        clock: Callable[[], float] = time.time,
        clock_skew_s: float = 60.0,
    ):
        self.target, self.secret, self.timeout_s, self.clock = target, secret, timeout_s, clock
        self.clock_skew_s = clock_skew_s

    def _post(self, raw: bytes, idempotency_key: str) -> Answer:
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            SIGNATURE_HEADER: signature_header(self.secret, int(self.clock()), raw),
        }
        reply = request(self.target.url, raw, headers, self.timeout_s, self.target.verify_tls)
        verdict = http_verdict(reply.status)
        if verdict is Verdict.DEAD and 400 <= reply.status < 500:
            skew = clock_skew(reply, self.clock(), self.clock_skew_s, self.target.shown_url)
            if skew is not None:
                return Answer(Verdict.RETRY, skew)
        detail = "" if verdict is Verdict.DELIVERED else f"HTTP {reply.status}: {reply.text[:500]}"
        return Answer(verdict, detail)

    def deliver(self, message: Message) -> Answer:
        return self._post(body(message), message.uuid)

    def finish(self, delivered: int, synced_until: datetime) -> str:
        return ""

    def check(self) -> str:
        """One signed ping; a receiver that answers 2xx has checked nothing is recorded."""
        raw = json.dumps({"id": "ping", "type": PING_TYPE, "data": {}}).encode()
        answer = self._post(raw, "ping")
        if answer.verdict is not Verdict.DELIVERED:
            raise TargetUnreachable(f"{self.target.shown_url} answered the ping: {answer.detail}")
        return f"{self.target.shown_url} accepted a signed ping"
