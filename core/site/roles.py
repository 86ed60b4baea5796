"""Stations and their logins on the site server: names checked, least-privilege kiosk roles, retired logins.

Role names start with the database's name, so several sites can share one PostgreSQL cluster:
`<db>_kiosk` is the group every kiosk login belongs to; `<db>_kiosk_<name>_<random>` is one kiosk's
login, new at every join. The admin station connects as the database's owner.

A kiosk's login is the attacker's login (anyone can copy a hallway PC's data folder), so the group gets
only what recognition and uploading need: the gallery's template columns (no face photos), the HR book,
inserts of its own new events and faces (the server sets ids and receive times), and moves of its own
events. A station that leaves, or is joined again under its name, has its old login retired at once:
no LOGIN, no group, no password, its sessions ended.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg
from core.site.hardening import KIOSK_SESSION_LIMITS, limit_sessions

log = logging.getLogger(__name__)

MAX_ROLE_NAME = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
MAX_STATION_NAME = 40
RESERVED_KIOSK_NAMES = frozenset({"admin"})  # the admin station's default name
PASSWORD_BYTES = 24
LOGIN_SUFFIX_BYTES = 3  # a fresh login name at every join: the old copy's login never works again
KIOSK_CONNECTION_LIMIT = 16  # a kiosk uses two (sync and LISTEN); a stolen login cannot take every slot
_NAME_PATTERN = re.compile(r"[^\W_](?:[\w .-]*[^\W_])?")  # letters and digits, inner spaces . - _

# What a kiosk may read (recognition, the day board, model files): never a face photo, never logins.
KIOSK_READ_COLUMNS: dict[str, tuple[str, ...] | None] = {  # None: every column
    "site_meta": ("gallery_version", "active_model"),
    "models": None,
    "people": ("id", "uuid", "name", "external_id", "created_at", "active", "version"),
    "samples": ("id", "uuid", "person_id", "source", "content_hash", "det_prob", "face_px", "sharpness",
                "created_at", "version", "derived"),
    "embeddings": None,
    "erasures": None,
    "hr_book": ("version", "body"),
    "model_packages": ("model_id", "onnx_name", "sha256", "size", "parts"),
    "model_package_parts": None,
}
# What a kiosk may write: its own new rows (never ids or receive times), and moves of its own events.
KIOSK_INSERT_COLUMNS = {
    "events": ("event_uuid", "kiosk_id", "kiosk_seq", "revision", "person_uuid", "kind", "kiosk_time", "kiosk_day",
               "kiosk_utc_offset_min", "source", "similarity", "track_id"),
    "unknown_faces": ("event_uuid", "model_id", "vector", "crop_jpeg", "det_prob", "face_px", "sharpness"),
    "correction_faces": ("event_uuid", "crop_jpeg"),
}
KIOSK_UPDATE_COLUMNS = {
    "events": ("kind", "kiosk_time", "kiosk_day", "kiosk_utc_offset_min", "source", "similarity", "track_id",
               "revision", "kiosk_seq"),
    "unknown_faces": ("model_id", "vector", "crop_jpeg", "det_prob", "face_px", "sharpness"),
}
KIOSK_OWN_ROW_COLUMNS = {"events": ("event_uuid", "kiosk_id", "revision"), "unknown_faces": ("event_uuid",),
                         "correction_faces": ("event_uuid",)}  # for ON CONFLICT and the policies
KIOSK_FUNCTIONS = ("rollcall_kiosk_id()", "rollcall_heartbeat(bigint, bigint, bigint)", "rollcall_leave()",
                   "rollcall_site_events(timestamptz, bigint, integer, integer)", "rollcall_reported_up_to()",
                   "rollcall_station_reports()", "rollcall_upload_refused()")
LOCK_TIMEOUT_S = 5  # a table lock waited for this long at most; then the stations holding it are named
TERMINATE_WAIT_MS = 5000  # a retired login's sessions are waited on this long to end


@dataclass(frozen=True)
class Registration:
    kiosk_id: int
    login: str | None  # a kiosk's own login (None: the admin station, which uses the owner's)
    password: str | None
    high_seq: int  # the highest sequence number the server already has of this station
    replaced: bool  # the name was in use: the earlier copy's login is retired
    stranded: int = 0  # events the earlier copy still held at its last contact (now only on that PC)
    earlier_contact: datetime | None = None


def kiosk_group_role(database: str) -> str:
    return f"{database}_kiosk"[:MAX_ROLE_NAME]


def station_key(name: str) -> str:
    """What two station names are told apart by: `North Door`, `north-door` and `north_door` are one."""
    return re.sub(r"[\W_]+", "-", unicodedata.normalize("NFKC", name).casefold()).strip("-")


def check_station_name(name: str, kiosk: bool) -> str:
    """The name, trimmed, or SiteError saying what a station name may be. Checked before any role is made."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    example = "e.g. --kiosk north-door" if kiosk else "e.g. --station office"
    if not name:
        raise SiteError(f"Give the station a name, {example}.", SiteProblem.BAD_NAME)
    if len(name) > MAX_STATION_NAME:
        raise SiteError(f"A station name has at most {MAX_STATION_NAME} characters; this one has {len(name)}.",
                        SiteProblem.BAD_NAME)
    if not _NAME_PATTERN.fullmatch(name):
        raise SiteError(f"A station name is letters and digits, with spaces, dots, dashes or underscores inside "
                        f"({example}); {name!r} is not.", SiteProblem.BAD_NAME)
    if kiosk and station_key(name) in RESERVED_KIOSK_NAMES:
        raise SiteError(f"{name!r} is reserved for the admin station; give the kiosk another name.",
                        SiteProblem.BAD_NAME)
    return name


def _check_name_free(name: str, is_admin: bool, stations: Sequence[tuple]) -> None:
    key = station_key(name)
    for _, other, _, other_is_admin, *_ in stations:
        if other == name and other_is_admin != is_admin:
            kind = "the admin station" if other_is_admin else "a kiosk"
            raise SiteError(f"{name!r} is {kind} of this site; give this station another name.",
                            SiteProblem.BAD_NAME)
        if other != name and station_key(other) == key:
            raise SiteError(f"{name!r} is too like the station {other!r} already on this site (names are told "
                            f"apart by letters and digits only). Use {other!r} to join in its place, or another "
                            "name.", SiteProblem.BAD_NAME)


def _new_login(conn: psycopg.Connection, database: str, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", station_key(name).encode("ascii", "ignore").decode()).strip("_") or "station"
    stem = f"{database}_kiosk_{slug}"[:MAX_ROLE_NAME - 2 * LOGIN_SUFFIX_BYTES - 1]
    while True:
        login = f"{stem}_{secrets.token_hex(LOGIN_SUFFIX_BYTES)}"
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone():
            return login


def _create_login(conn: psycopg.Connection, login: str, password: str, group: str) -> None:
    """The role with a SCRAM verifier computed here (libpq): the password itself never reaches the server."""
    verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
    sql = psycopg.sql
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {} PASSWORD {}").format(
        sql.Identifier(login), sql.Literal(KIOSK_CONNECTION_LIMIT), sql.Literal(verifier)))
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login)))
    limit_sessions(conn, login, KIOSK_SESSION_LIMITS)


def retire_login(conn: psycopg.Connection, login: str) -> None:
    """A left or replaced station's login: no LOGIN, no password, its sessions ended (where this role may end
    them), out of the kiosk group. Takes no table lock, so a session of that login holding one cannot stop it."""
    sql = psycopg.sql
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone():
        return
    conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN PASSWORD NULL").format(sql.Identifier(login)))
    conn.execute("SELECT pg_terminate_backend(pid, %s) FROM pg_stat_activity WHERE usename = %s"
                 " AND pid <> pg_backend_pid() AND (pg_has_role(usesysid, 'USAGE')"
                 " OR pg_has_role('pg_signal_backend', 'USAGE'))", [TERMINATE_WAIT_MS, login])
    for (group,) in conn.execute("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
                                 " JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = %s", [login]).fetchall():
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group), sql.Identifier(login)))


def lock_holders(conn: psycopg.Connection, tables: Sequence[str]) -> list[str]:
    """The stations (or logins) whose sessions hold a lock on these tables, with since when."""
    return [f"{who} (a transaction open since {since:%Y-%m-%d %H:%M:%S %Z})" if since else who
            for who, since in conn.execute(
                "SELECT coalesce(k.name, a.usename), min(a.xact_start) FROM pg_locks l"
                " JOIN pg_stat_activity a ON a.pid = l.pid LEFT JOIN kiosks k ON k.db_role = a.usename"
                " WHERE l.granted AND l.pid <> pg_backend_pid() AND l.relation = ANY(%s::regclass[])"
                " GROUP BY 1 ORDER BY 1", [list(tables)]).fetchall()]


@contextmanager
def naming_lock_holders(conn: psycopg.Connection, tables: Sequence[str]) -> Iterator[None]:
    """A savepoint in which every lock is waited for LOCK_TIMEOUT_S at most; past it, SiteError naming the
    stations (or logins) whose sessions hold locks on these tables."""
    before = conn.execute("SELECT current_setting('lock_timeout')").fetchone()[0]
    try:
        with conn.transaction():
            conn.execute("SELECT set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_S}s"])
            yield
            conn.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except psycopg.errors.LockNotAvailable:
        holders = lock_holders(conn, tables) or ["a session that has ended since"]
        raise SiteError(f"The site server's tables are held by {', '.join(holders)}; waited {LOCK_TIMEOUT_S} s. "
                        "Retire that station (`rollcall site retire NAME`) or end its session, then try again.",
                        SiteProblem.SERVER_ERROR) from None


def lock_or_name_holders(conn: psycopg.Connection, tables: Sequence[str], mode: str = "ACCESS EXCLUSIVE") -> None:
    """Lock these tables (those that exist) in the caller's transaction, or SiteError naming who holds them."""
    present = [t for t in tables if conn.execute("SELECT to_regclass(%s) IS NOT NULL", [t]).fetchone()[0]]
    if present:
        sql = psycopg.sql
        with naming_lock_holders(conn, present):
            conn.execute(sql.SQL("LOCK TABLE {} IN " + mode + " MODE").format(
                sql.SQL(", ").join(map(sql.Identifier, present))))


def retire_station(conn: psycopg.Connection, name: str) -> str:
    """Mark a kiosk left, its login retired first (so its own open transaction cannot stop this); returns the
    login retired. SiteError when there is no such kiosk, or when another session holds its row."""
    with conn.transaction():
        found = conn.execute("SELECT db_role FROM kiosks WHERE name = %s AND NOT is_admin", [name]).fetchone()
        if found is None:
            raise SiteError(f"This site has no kiosk {name!r}.", SiteProblem.BAD_NAME)
        if found[0]:
            retire_login(conn, found[0])
    with conn.transaction(), naming_lock_holders(conn, ["kiosks"]):
        conn.execute("UPDATE kiosks SET left_at = coalesce(left_at, now()) WHERE name = %s", [name])
    return found[0] or ""


def retire_stale_logins(conn: psycopg.Connection) -> list[str]:
    """Every login in the kiosk group that is not a current station's (left, replaced, or made by hand)
    is retired: the admin station runs this at each sync. Returns the logins retired."""
    group = kiosk_group_role(conn.info.dbname)
    try:
        return _retire_stale(conn, group)
    except psycopg.errors.InsufficientPrivilege as exc:  # an owner without CREATEROLE: sync goes on
        log.warning("Could not retire the logins of kiosks that left (%s); give the owner CREATEROLE.",
                    exc.diag.message_primary)
        return []


def _retire_stale(conn: psycopg.Connection, group: str) -> list[str]:
    with conn.transaction():
        stale = [r[0] for r in conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles r ON r.oid = m.member WHERE g.rolname = %s AND NOT EXISTS (SELECT 1 FROM kiosks k"
            " WHERE k.db_role = r.rolname AND k.left_at IS NULL)"
            " UNION SELECT k.db_role FROM kiosks k JOIN pg_roles r ON r.rolname = k.db_role"
            " WHERE k.left_at IS NOT NULL AND r.rolcanlogin", [group])]
        for login in stale:
            retire_login(conn, login)
    return stale


def grant_kiosk_rights(conn: psycopg.Connection, schema: str) -> None:
    """The kiosk group's rights, from nothing (idempotent): read the template columns, add its own rows,
    move its own events, run the kiosk functions; no temporary objects, nothing created in the schema."""
    sql = psycopg.sql
    group = kiosk_group_role(conn.info.dbname)
    role, space = sql.Identifier(group), sql.Identifier(schema)

    def run(statement: str, *parts: psycopg.sql.Composable) -> None:
        conn.execute(sql.SQL(statement).format(*parts))

    def columns(names: tuple[str, ...]) -> psycopg.sql.Composable:
        return sql.SQL(", ").join(map(sql.Identifier, names))

    def table(name: str) -> psycopg.sql.Composable:
        return sql.Identifier(schema, name)

    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [group]).fetchone():
        run("CREATE ROLE {} NOLOGIN", role)
    run("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}", space, role)  # column rights go with them
    run("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}", space, role)
    run("REVOKE CREATE ON SCHEMA {} FROM PUBLIC, {}", space, role)
    run("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {}", sql.Identifier(conn.info.dbname), role)
    run("GRANT USAGE ON SCHEMA {} TO {}", space, role)
    for name, readable in KIOSK_READ_COLUMNS.items():
        if readable is None:
            run("GRANT SELECT ON {} TO {}", table(name), role)
        else:
            run("GRANT SELECT ({}) ON {} TO {}", columns(readable), table(name), role)
    for name, own in KIOSK_OWN_ROW_COLUMNS.items():
        run("GRANT SELECT ({}) ON {} TO {}", columns(own), table(name), role)
    for name, insertable in KIOSK_INSERT_COLUMNS.items():
        run("GRANT INSERT ({}) ON {} TO {}", columns(insertable), table(name), role)
    for name, updatable in KIOSK_UPDATE_COLUMNS.items():
        run("GRANT UPDATE ({}) ON {} TO {}", columns(updatable), table(name), role)
    for (function,) in conn.execute("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n"
                                    " ON n.oid = p.pronamespace WHERE n.nspname = %s"
                                    " AND p.proname LIKE 'rollcall\\_%%'", [schema]).fetchall():
        run("REVOKE ALL ON FUNCTION " + function + " FROM PUBLIC")  # regprocedure text is quoted as needed
    run("GRANT EXECUTE ON FUNCTION " + ", ".join(f"{{}}.{f}" for f in KIOSK_FUNCTIONS) + " TO {}",
        *[space] * len(KIOSK_FUNCTIONS), role)
    own_kiosk = sql.SQL("(SELECT {}.rollcall_kiosk_id())").format(space)  # once per statement, not per row
    run("DROP POLICY IF EXISTS kiosk_own_events ON {}", table("events"))
    run("CREATE POLICY kiosk_own_events ON {} TO {} USING (kiosk_id = {}) WITH CHECK (kiosk_id = {})",
        table("events"), role, own_kiosk, own_kiosk)
    for name in ("unknown_faces", "correction_faces"):  # faces of its own events only
        own = sql.SQL("EXISTS (SELECT 1 FROM {} e WHERE e.event_uuid = {}.event_uuid AND e.kiosk_id = {})").format(
            table("events"), sql.Identifier(name), own_kiosk)
        run("DROP POLICY IF EXISTS kiosk_own_faces ON {}", table(name))
        run("CREATE POLICY kiosk_own_faces ON {} TO {} USING ({}) WITH CHECK ({})", table(name), role, own, own)


def register_station(conn: psycopg.Connection, name: str, is_admin: bool) -> Registration:
    """Register (or re-register) a station under a checked name. A kiosk gets a new login with a new random
    password; the login of an earlier copy under the same name is retired in the same transaction."""
    name = check_station_name(name, kiosk=not is_admin)
    database = conn.info.dbname
    with conn.transaction():  # the earlier copy's sessions end first: one of them may hold a lock on kiosks
        earlier_login = conn.execute("SELECT db_role FROM kiosks WHERE name = %s AND NOT is_admin",
                                     [name]).fetchone()  # a kiosk joined again in its place
        if not is_admin and earlier_login and earlier_login[0]:
            retire_login(conn, earlier_login[0])
    with conn.transaction():
        lock_or_name_holders(conn, ["kiosks"], "SHARE ROW EXCLUSIVE")  # one registration at a time
        stations = conn.execute("SELECT id, name, db_role, is_admin, queue_length, last_contact, left_at IS NULL"
                                " FROM kiosks").fetchall()
        _check_name_free(name, is_admin, stations)
        earlier = next((s for s in stations if s[1] == name), None)
        login = password = None
        if not is_admin:
            login, password = _new_login(conn, database, name), secrets.token_urlsafe(PASSWORD_BYTES)
            _create_login(conn, login, password, kiosk_group_role(database))
        if earlier is not None and earlier[2]:
            retire_login(conn, earlier[2])
        kiosk_id = conn.execute(
            "INSERT INTO kiosks (name, db_role, is_admin) VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE"
            " SET db_role = excluded.db_role, left_at = NULL RETURNING id", [name, login, is_admin]).fetchone()[0]
        high = conn.execute("SELECT coalesce(max(kiosk_seq), 0) FROM events WHERE kiosk_id = %s",
                            [kiosk_id]).fetchone()[0]
    if earlier is None or is_admin:
        return Registration(kiosk_id, login, password, int(high), replaced=False)
    stranded = int(earlier[4]) if earlier[6] else 0  # a copy that left took its queue along
    return Registration(kiosk_id, login, password, int(high), True, stranded, earlier[5])


def can_administer(conn: psycopg.Connection) -> bool:
    """True for the database's owner or a superuser: what `site init` and `site join` need."""
    return bool(conn.execute(
        "SELECT r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_roles r, pg_database d"
        " WHERE r.rolname = current_user AND d.datname = current_database()").fetchone()[0])
