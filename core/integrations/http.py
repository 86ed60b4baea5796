"""HTTP for the targets: one request, https with certificate checks unless a target turns them off,
and the answer as data (a refusal is an answer; a target that cannot be reached is TargetUnreachable)."""

from __future__ import annotations

import enum
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import parsedate_to_datetime

from core.integrations.targets import masked_url

MAX_ANSWER_BYTES = 1 << 20
CLOCK_SKEW = "clock skew"  # how a last error about this station's clock begins (status warns about it)
USER_AGENT = "Rollcall-Integrations/1"


class TargetUnreachable(Exception):
    """The target could not be reached or did not answer in time; retried later."""


class LoginRefused(TargetUnreachable):
    """The target refused the login: every row would fail the same way, so the round stops."""


class Verdict(enum.StrEnum):
    """What a target's answer means for an outbox row."""

    DELIVERED = "delivered"
    RETRY = "retry"  # down, 5xx, rate-limited: try again later
    DEAD = "dead"  # refused for good (unknown employee, bad login): a dead letter until retried


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    detail: str = ""  # the target's answer, shortened; a note when delivered


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes
    date: datetime | None = None  # the answer's Date header: the target's clock

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as the answer: urllib would turn a redirected POST into a GET without its body."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:  # a target set up with --insecure (a test server with a self-signed certificate)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def request(
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout_s: float,
    verify_tls: bool = True,
    method: str = "POST",
) -> HttpReply:
    """One request; 4xx and 5xx come back as replies, not exceptions."""
    prepared = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers})
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=tls_context(verify_tls)))
    try:
        with urllib.request.build_opener(*handlers).open(prepared, timeout=timeout_s) as response:
            return HttpReply(response.status, response.read(MAX_ANSWER_BYTES), _date(response.headers))
    except urllib.error.HTTPError as error:
        with error:
            return HttpReply(error.code, error.read(MAX_ANSWER_BYTES), _date(error.headers))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnreachable(f"{masked_url(url)} cannot be reached ({reason})") from None


def _date(headers: Message | None) -> datetime | None:
    try:
        return parsedate_to_datetime(headers["Date"]) if headers is not None and headers["Date"] else None
    except (TypeError, ValueError):
        return None


def http_verdict(status: int) -> Verdict:
    """The verdict of a status with no more specific reading: 2xx delivered, 408/425/429/5xx retried,
    any other answer (a redirect too: fix the address) a dead letter."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    return Verdict.RETRY if status >= 500 or status in (408, 425, 429) else Verdict.DEAD
