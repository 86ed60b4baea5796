"""The site server's schema: versioned migrations and the least-privilege kiosk roles.

Role names start with the database's name, so several sites can share one PostgreSQL cluster:
`<db>_kiosk` is the group every kiosk login belongs to; `<db>_kiosk_<name>` is one kiosk's login.
The admin station connects as the database's owner. Kiosks may read the gallery (with trained models'
files) and the HR book, read every station's events through rollcall_site_events() (no snapshots), and
add (or move their own) attendance events; row-level security keeps each kiosk to its own events, and
they cannot change people, samples, embeddings, models' files or other kiosks.
"""

from __future__ import annotations

import re
import secrets

from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg

SCHEMA_LOCK = 7_340_114  # pg_advisory_xact_lock key while migrating
MAX_ROLE_NAME = 63  # PostgreSQL's identifier limit (NAMEDATALEN - 1)
GALLERY_CHANNEL = "rollcall_gallery"  # NOTIFY payload: the new gallery version
PASSWORD_BYTES = 24

_MIGRATION_1 = """
CREATE TABLE rollcall_schema (version integer NOT NULL);
INSERT INTO rollcall_schema VALUES (0);
CREATE TABLE site_meta (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    gallery_version bigint NOT NULL DEFAULT 0,
    active_model text);
INSERT INTO site_meta DEFAULT VALUES;
CREATE TABLE models (
    id text PRIMARY KEY, name text NOT NULL, base text NOT NULL, parent_id text,
    embedding_size integer NOT NULL CHECK (embedding_size > 0), created_at timestamptz NOT NULL,
    settings jsonb NOT NULL DEFAULT '{}', metrics jsonb NOT NULL DEFAULT '{}', version bigint NOT NULL);
CREATE TABLE people (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, uuid uuid NOT NULL UNIQUE, name text NOT NULL,
    external_id text, created_at timestamptz NOT NULL, active boolean NOT NULL DEFAULT true,
    version bigint NOT NULL, changed_by text NOT NULL DEFAULT session_user);
CREATE INDEX people_version ON people (version);
CREATE UNIQUE INDEX people_external_id ON people (external_id) WHERE external_id IS NOT NULL;
CREATE TABLE samples (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, uuid uuid NOT NULL UNIQUE,
    person_id bigint NOT NULL REFERENCES people (id) ON DELETE CASCADE, crop_jpeg bytea NOT NULL,
    source text NOT NULL, content_hash text NOT NULL, det_prob real NOT NULL, face_px integer NOT NULL,
    sharpness real NOT NULL, created_at timestamptz NOT NULL, version bigint NOT NULL);
CREATE INDEX samples_version ON samples (version);
CREATE INDEX samples_person ON samples (person_id);
CREATE TABLE embeddings (
    sample_id bigint NOT NULL REFERENCES samples (id) ON DELETE CASCADE,
    model_id text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    vector bytea NOT NULL, version bigint NOT NULL, PRIMARY KEY (sample_id, model_id));
CREATE INDEX embeddings_version ON embeddings (version);
CREATE TABLE erasures (
    uuid uuid PRIMARY KEY, kind text NOT NULL CHECK (kind IN ('person', 'sample', 'merged')),
    merged_into uuid CHECK ((kind = 'merged') = (merged_into IS NOT NULL)), version bigint NOT NULL);
CREATE INDEX erasures_version ON erasures (version);
CREATE TABLE kiosks (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE, db_role text UNIQUE,
    is_admin boolean NOT NULL DEFAULT false, joined_at timestamptz NOT NULL DEFAULT now(),
    last_contact timestamptz, queue_length bigint NOT NULL DEFAULT 0, acked_seq bigint NOT NULL DEFAULT 0,
    gallery_version bigint NOT NULL DEFAULT 0, left_at timestamptz);
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_uuid uuid NOT NULL UNIQUE,
    kiosk_id integer NOT NULL REFERENCES kiosks (id), kiosk_seq bigint NOT NULL,
    revision integer NOT NULL DEFAULT 0, person_uuid uuid,
    kind text NOT NULL CHECK (kind IN ('check_in', 'check_out', 'unknown')),
    kiosk_time timestamptz NOT NULL, kiosk_day date NOT NULL, kiosk_utc_offset_min integer NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(), source text NOT NULL, similarity real NOT NULL,
    track_id integer);
CREATE INDEX events_day ON events (kiosk_day, kiosk_time);
CREATE INDEX events_kiosk_seq ON events (kiosk_id, kiosk_seq);
CREATE INDEX events_person ON events (person_uuid);
CREATE FUNCTION rollcall_kiosk_id() RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $$ SELECT id FROM kiosks WHERE db_role = session_user AND left_at IS NULL $$;
CREATE FUNCTION rollcall_heartbeat(queue bigint, acked bigint, gallery bigint) RETURNS void LANGUAGE sql
    SECURITY DEFINER SET search_path FROM CURRENT
    AS $$ UPDATE kiosks SET last_contact = now(), queue_length = queue, acked_seq = greatest(acked_seq, acked),
          gallery_version = gallery WHERE db_role = session_user $$;
CREATE FUNCTION rollcall_leave() RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path FROM CURRENT
    AS $$ UPDATE kiosks SET left_at = now() WHERE db_role = session_user $$;
REVOKE ALL ON FUNCTION rollcall_kiosk_id(), rollcall_heartbeat(bigint, bigint, bigint), rollcall_leave() FROM PUBLIC;
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
"""

# Time and attendance across the site: the admin station's HR book (one versioned JSON row), every
# station's events readable by every station (without snapshots), and how far every station has reported
# (an admin station that never recorded an event, an office PC switched off at night, holds nobody back).
_MIGRATION_2 = """
CREATE TABLE hr_book (
    one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL DEFAULT 0,
    body jsonb NOT NULL DEFAULT '{}', changed_by text NOT NULL DEFAULT session_user,
    changed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO hr_book DEFAULT VALUES;
CREATE INDEX events_received ON events (received_at, id);
CREATE FUNCTION rollcall_site_events(after_received timestamptz, after_id bigint, except_kiosk integer,
                                     max_rows integer)
    RETURNS TABLE (id bigint, event_uuid text, person_uuid text, kind text, kiosk_time timestamptz,
                   offset_min integer, source text, similarity real, track_id integer, revision integer,
                   station text, received_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT
    AS $$ SELECT e.id, e.event_uuid::text, e.person_uuid::text, e.kind, e.kiosk_time, e.kiosk_utc_offset_min,
                 e.source, e.similarity, e.track_id, e.revision, k.name, e.received_at
          FROM events e JOIN kiosks k ON k.id = e.kiosk_id
          WHERE (e.received_at, e.id) > (after_received, after_id) AND e.kiosk_id <> except_kiosk
          ORDER BY e.received_at, e.id LIMIT max_rows $$;
CREATE FUNCTION rollcall_reported_up_to() RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path FROM CURRENT
    AS $$ SELECT min(CASE WHEN k.queue_length = 0 AND k.last_contact IS NOT NULL THEN k.last_contact
                          ELSE coalesce((SELECT max(e.kiosk_time) FROM events e
                                         WHERE e.kiosk_id = k.id AND e.kiosk_seq <= k.acked_seq), k.joined_at) END)
          FROM kiosks k WHERE k.left_at IS NULL
               AND (NOT k.is_admin OR EXISTS (SELECT 1 FROM events e WHERE e.kiosk_id = k.id)) $$;
REVOKE ALL ON FUNCTION rollcall_site_events(timestamptz, bigint, integer, integer), rollcall_reported_up_to()
    FROM PUBLIC;
"""

# Unknown visitors' kept faces (crop and embedding), sent by the station that saw them, so the admin
# station groups a stranger seen at two doors as one. A kiosk may add faces to its own events only.
_MIGRATION_3 = """
CREATE TABLE unknown_faces (
    event_uuid uuid PRIMARY KEY REFERENCES events (event_uuid) ON DELETE CASCADE,
    model_id text NOT NULL, vector bytea NOT NULL, crop_jpeg bytea NOT NULL, det_prob real NOT NULL,
    face_px integer NOT NULL, sharpness real NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX unknown_faces_received ON unknown_faces (received_at, event_uuid);
ALTER TABLE unknown_faces ENABLE ROW LEVEL SECURITY;
"""

# The face of a recognised event that the admin station then corrected (voided or reassigned), sent by
# the station that saw it once the correction reaches it: the admin's confusion gets its face, so
# retraining learns from every door's mistakes. Only corrected events' faces travel.
_MIGRATION_4 = """
CREATE TABLE correction_faces (
    event_uuid uuid PRIMARY KEY REFERENCES events (event_uuid) ON DELETE CASCADE,
    crop_jpeg bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX correction_faces_received ON correction_faces (received_at, event_uuid);
ALTER TABLE correction_faces ENABLE ROW LEVEL SECURITY;
"""

# A trained (or imported) model's files, as the `.rollcall-model` package the admin station published:
# a header (its checksum and size) and the bytes in parts, replaced in one transaction, so a kiosk reads
# a whole package or none. Kiosks read them; only the admin station writes.
_MIGRATION_5 = """
CREATE TABLE model_packages (
    model_id text PRIMARY KEY REFERENCES models (id) ON DELETE CASCADE, onnx_name text NOT NULL,
    sha256 text NOT NULL CHECK (length(sha256) = 64), size bigint NOT NULL CHECK (size > 0),
    parts integer NOT NULL CHECK (parts > 0), uploaded_at timestamptz NOT NULL DEFAULT now(),
    uploaded_by text NOT NULL DEFAULT session_user);
CREATE TABLE model_package_parts (
    model_id text NOT NULL REFERENCES model_packages (model_id) ON DELETE CASCADE,
    part integer NOT NULL CHECK (part >= 0), data bytea NOT NULL, PRIMARY KEY (model_id, part));
ALTER TABLE model_package_parts ALTER COLUMN data SET STORAGE EXTERNAL;
"""

# Ordered server migrations: SERVER_MIGRATIONS[i] brings rollcall_schema.version i to i + 1. Append, never edit.
SERVER_MIGRATIONS: list[str] = [_MIGRATION_1, _MIGRATION_2, _MIGRATION_3, _MIGRATION_4, _MIGRATION_5]
GALLERY_TABLES = ("site_meta", "models", "people", "samples", "embeddings", "erasures", "kiosks", "hr_book",
                  "model_packages", "model_package_parts")
KIOSK_EVENT_COLUMNS = ("kind", "kiosk_time", "kiosk_day", "kiosk_utc_offset_min", "source", "similarity",
                       "track_id", "revision", "kiosk_seq", "received_at")


def kiosk_group_role(database: str) -> str:
    return f"{database}_kiosk"[:MAX_ROLE_NAME]


def kiosk_login_role(database: str, kiosk: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", kiosk.lower()).strip("_") or "station"
    return f"{database}_kiosk_{slug}"[:MAX_ROLE_NAME]


def schema_version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('rollcall_schema') IS NOT NULL").fetchone()[0]
    return conn.execute("SELECT version FROM rollcall_schema").fetchone()[0] if exists else 0


def migrate(conn: psycopg.Connection) -> int:
    """Bring the server schema up to date (one transaction per step, serialised); returns the version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        version = schema_version(conn)
        if version > len(SERVER_MIGRATIONS):
            raise SiteError(f"The site server's schema is version {version}; this Rollcall knows up to "
                            f"{len(SERVER_MIGRATIONS)}. Update Rollcall on this station.", SiteProblem.NEWER_SCHEMA)
        for number in range(version + 1, len(SERVER_MIGRATIONS) + 1):
            conn.execute(SERVER_MIGRATIONS[number - 1])
            conn.execute("UPDATE rollcall_schema SET version = %s", [number])
        group = kiosk_group_role(conn.info.dbname)
        if version < len(SERVER_MIGRATIONS) or not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [group]).fetchone():
            _grant_kiosk_rights(conn, group)
    return len(SERVER_MIGRATIONS)


def check_schema(conn: psycopg.Connection) -> None:
    version = schema_version(conn)
    if version > len(SERVER_MIGRATIONS):
        raise SiteError(f"The site server's schema is version {version}; this Rollcall knows up to "
                        f"{len(SERVER_MIGRATIONS)}. Update Rollcall on this station.", SiteProblem.NEWER_SCHEMA)
    if version < len(SERVER_MIGRATIONS):
        raise SiteError("The site server's schema is older than this Rollcall; run `rollcall site sync` on the "
                        "admin station once to update it.", SiteProblem.NEWER_SCHEMA)


def _grant_kiosk_rights(conn: psycopg.Connection, group: str) -> None:
    """The kiosk group: read the gallery, add events, move its own events; nothing else. Idempotent."""
    role = psycopg.sql.Identifier(group)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [group]).fetchone()
    if not exists:
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
    conn.execute(psycopg.sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
    conn.execute(psycopg.sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
    conn.execute(psycopg.sql.SQL("GRANT SELECT ON {} TO {}").format(
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, GALLERY_TABLES)), role))
    conn.execute(psycopg.sql.SQL("GRANT INSERT ON events TO {}").format(role))
    conn.execute(psycopg.sql.SQL("GRANT SELECT (event_uuid, kiosk_id, revision) ON events TO {}").format(role))
    conn.execute(psycopg.sql.SQL("GRANT UPDATE ({}) ON events TO {}").format(
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, KIOSK_EVENT_COLUMNS)), role))
    conn.execute(psycopg.sql.SQL("GRANT EXECUTE ON FUNCTION rollcall_kiosk_id(), rollcall_heartbeat(bigint, bigint, bigint),"
                         " rollcall_leave(), rollcall_site_events(timestamptz, bigint, integer, integer),"
                         " rollcall_reported_up_to() TO {}").format(role))
    for table in ("unknown_faces", "correction_faces"):  # faces of its own events only (RLS)
        conn.execute(psycopg.sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(psycopg.sql.Identifier(table), role))
        own = psycopg.sql.SQL("EXISTS (SELECT 1 FROM events e WHERE e.event_uuid = {}.event_uuid"
                      " AND e.kiosk_id = rollcall_kiosk_id())").format(psycopg.sql.Identifier(table))
        conn.execute(psycopg.sql.SQL("DROP POLICY IF EXISTS kiosk_own_faces ON {}").format(psycopg.sql.Identifier(table)))
        conn.execute(psycopg.sql.SQL("CREATE POLICY kiosk_own_faces ON {} TO {} USING ({}) WITH CHECK ({})").format(
            psycopg.sql.Identifier(table), role, own, own))
    conn.execute(psycopg.sql.SQL("DROP POLICY IF EXISTS kiosk_own_events ON events"))
    conn.execute(psycopg.sql.SQL("CREATE POLICY kiosk_own_events ON events TO {} USING (kiosk_id = rollcall_kiosk_id())"
                         " WITH CHECK (kiosk_id = rollcall_kiosk_id())").format(role))


def register_station(conn: psycopg.Connection, name: str, is_admin: bool) -> tuple[int, str | None, str | None, int]:
    """Register (or re-register) a station. A kiosk gets its own login role with a new random password.

    Returns (kiosk id, login role or None, password or None, highest sequence number already on the server).
    """
    database = conn.info.dbname
    login = None if is_admin else kiosk_login_role(database, name)
    password = None
    with conn.transaction():
        if login is not None:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            # utility statements take no bind parameters: the password goes in as a quoted literal
            conn.execute(psycopg.sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(login), psycopg.sql.Literal(password)))
            conn.execute(psycopg.sql.SQL("GRANT {} TO {}").format(
                psycopg.sql.Identifier(kiosk_group_role(database)), psycopg.sql.Identifier(login)))
        row = conn.execute(
            "INSERT INTO kiosks (name, db_role, is_admin) VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE"
            " SET db_role = excluded.db_role, is_admin = excluded.is_admin, left_at = NULL RETURNING id",
            [name, login, is_admin]).fetchone()
        kiosk_id = row[0]
        high = conn.execute("SELECT coalesce(max(kiosk_seq), 0) FROM events WHERE kiosk_id = %s",
                            [kiosk_id]).fetchone()[0]
    return kiosk_id, login, password, int(high)


def can_administer(conn: psycopg.Connection) -> bool:
    """True for the database's owner or a superuser: what `site init` and `site join` need."""
    return bool(conn.execute(
        "SELECT r.rolsuper OR pg_has_role(current_user, d.datdba, 'MEMBER') FROM pg_roles r, pg_database d"
        " WHERE r.rolname = current_user AND d.datname = current_database()").fetchone()[0])
