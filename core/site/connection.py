"""Connecting to the site server: the credentials file and errors a user can act on.

The server URL (with the station's own database role and password) is kept in
<data folder>/site-credentials.json, owner read/write only (0600). Logs, status and errors show
it with the password removed (`redacted`)."""

from __future__ import annotations

import enum
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.base.errors import RollcallError
from core.base.settings import SiteSettings
from core.site.driver import psycopg
from core.site.intake import QUOTA_SQLSTATE

CREDENTIALS_FILE = "site-credentials.json"
APPLICATION_NAME = "rollcall"


class SiteProblem(enum.StrEnum):
    UNREACHABLE = "unreachable"  # server down, network lost, wrong address
    NOT_JOINED = "not_joined"  # the station is standalone
    ALREADY_JOINED = "already_joined"
    NEEDS_ADMIN = "needs_admin"  # a gallery edit asked of a kiosk, or a kiosk role without rights
    NOT_ALLOWED = "not_allowed"  # the server refused (privileges, authentication)
    NEWER_SCHEMA = "newer_schema"
    UNSENT_EVENTS = "unsent_events"  # leaving would strand events
    BAD_URL = "bad_url"
    BAD_NAME = "bad_name"  # a station name that is too long, has odd characters, is reserved or too like another
    SERVER_ERROR = "server_error"  # the server refused a statement (nothing was changed by it)
    MODEL_FILES = "model_files"  # a model's files on the server are missing or damaged (nothing installed)
    QUOTA = "quota"  # the station's uploads are over the site's hourly quota (they wait, queued)
    REFUSED = "refused"  # the server refused a value this station sent (it waits, queued)


class SiteError(RollcallError):
    """Site mode trouble; the message says what happened and what was kept."""

    def __init__(self, message: str, problem: SiteProblem):
        super().__init__(message)
        self.problem = SiteProblem(problem)


@dataclass(frozen=True)
class Credentials:
    url: str  # a libpq URL or key=value string; may carry sslmode, sslrootcert, ...

    @property
    def redacted(self) -> str:
        return redacted(self.url)

    @property
    def user(self) -> str:
        return psycopg.conninfo.conninfo_to_dict(self.url).get("user") or os.environ.get("PGUSER", "")

    @property
    def database(self) -> str:
        return psycopg.conninfo.conninfo_to_dict(self.url).get("dbname") or self.user

    def with_login(self, user: str, password: str) -> Credentials:
        return Credentials(psycopg.conninfo.make_conninfo(self.url, user=user, password=password))


def redacted(url: str) -> str:
    """host:port/database as user, with sslmode when set; never the password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(an address that cannot be read)"
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', parts.get('user', ''))}"
    extra = f" sslmode={parts['sslmode']}" if parts.get("sslmode") else ""
    return f"{where} as {parts.get('user', '?')}{extra}"


_SECRETS_IN_URL = (re.compile(r"://[^/?#@]*?:([^@/?#]*)@"), re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)"))


def without_secrets(text: str, url: str) -> str:
    """`text` with anything that looks like the URL's password, or the whole URL, masked."""
    secrets = [m.group(1) for pattern in _SECRETS_IN_URL for m in pattern.finditer(url) if m.group(1)]
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text.replace(url, "(the address)") if secrets else text


def check_url(url: str) -> Credentials:
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = without_secrets(str(exc).strip().splitlines()[0] if str(exc).strip() else "", url)
        raise SiteError(f"That server address cannot be read ({reason}). Use postgresql://USER:PASSWORD@HOST:PORT/"
                        "DATABASE?sslmode=verify-full", SiteProblem.BAD_URL) from None
    return Credentials(url)


def credentials_path(data_dir: Path) -> Path:
    return Path(data_dir) / CREDENTIALS_FILE


def save_credentials(data_dir: Path, credentials: Credentials) -> Path:
    """Write the file owner-only from the start (never world-readable for a moment)."""
    path = credentials_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": credentials.url}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def load_credentials(data_dir: Path) -> Credentials | None:
    path = credentials_path(data_dir)
    if not path.exists():
        return None
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: tighten, the password is inside
    try:
        return Credentials(json.loads(path.read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError) as exc:
        raise SiteError(f"The site credentials file {path} cannot be read ({type(exc).__name__}). Join the site "
                        "again with `rollcall site join`.", SiteProblem.NOT_JOINED) from None


def remove_credentials(data_dir: Path) -> None:
    credentials_path(data_dir).unlink(missing_ok=True)


def connect(credentials: Credentials, settings: SiteSettings, autocommit: bool = True) -> psycopg.Connection:
    """An autocommit connection (work runs in explicit transaction blocks) with timeouts and keepalives,
    or SiteError naming the server (never the password)."""
    try:
        return psycopg.connect(
            credentials.url, autocommit=autocommit, connect_timeout=max(1, int(settings.connect_timeout_s)),
            application_name=APPLICATION_NAME, keepalives=1, keepalives_idle=10, keepalives_interval=5,
            keepalives_count=3, options=f"-c statement_timeout={int(settings.statement_timeout_s * 1000)}")
    except psycopg.OperationalError as exc:
        raise unreachable(credentials, exc) from None


def server_error(exc: psycopg.Error) -> SiteError:
    detail = exc.diag.message_primary if getattr(exc, "diag", None) and exc.diag.message_primary else str(exc)
    hint = f" {exc.diag.message_hint}." if getattr(exc, "diag", None) and exc.diag.message_hint else ""
    if exc.sqlstate == QUOTA_SQLSTATE:
        return SiteError(f"The site server refused this station's uploads: {detail}.{hint} Nothing is lost: "
                         "they stay queued here.", SiteProblem.QUOTA)
    if isinstance(exc, psycopg.IntegrityError):
        return SiteError(f"The site server refused a value this station sent ({detail}).{hint} It stays queued "
                         "here; tell the site's admin if this stays.", SiteProblem.REFUSED)
    return SiteError(f"The site server refused a statement ({type(exc).__name__}: {detail}); it changed nothing. "
                     "Local data is kept; tell the site's admin if this stays.", SiteProblem.SERVER_ERROR)


def unreachable(credentials: Credentials, exc: Exception) -> SiteError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "password authentication failed" in reason or "no pg_hba.conf entry" in reason:
        return SiteError(f"The site server {credentials.redacted} refused this station's login ({reason}). "
                         "Ask the admin to join it again.", SiteProblem.NOT_ALLOWED)
    return SiteError(f"The site server {credentials.redacted} cannot be reached ({reason}). Attendance is kept "
                     "on this station and sent when the server is back.", SiteProblem.UNREACHABLE)
