"""The site server's schema: versioned migrations, applied by the admin station (the database's owner).

Kiosks may read the gallery's templates (with trained models' files) and the HR book, read every station's
events through rollcall_site_events() (no snapshots, no faces), and add (or move their own) attendance
events; row-level security keeps each kiosk to its own events, and they cannot change people, samples,
embeddings, models' files or other kiosks. Their rights are core.site.roles's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg
from core.site.hardening import harden_server
from core.site.intake import migrate_intake
from core.site.reporting import migrate_reporting, reporter_prefix
from core.site.roles import grant_kiosk_rights, kiosk_group_role, lock_or_name_holders

SCHEMA_LOCK = 7_340_114  # pg_advisory_xact_lock key while migrating
GALLERY_CHANNEL = "rollcall_gallery"  # NOTIFY payload: the new gallery version

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

# Hardening against a hostile kiosk (its login is the attacker's): every SECURITY DEFINER function gets a
# fixed, schema-qualified search_path with pg_temp last and checks its arguments; receive times are set by
# the server on a move or a face sent again (a kiosk has no right to the column); forged future receive
# times from before are brought back to now. An erasure also names the kept faces given to the person
# ('face' rows), so every station can drop its copy; an erased person's tombstone is a one-way key of their
# UUID (core.site.gallery.erased_key), so the server keeps no trace of it. The kiosk group's rights are
# granted again from nothing.
_MIGRATION_6 = """
CREATE OR REPLACE FUNCTION {s}.rollcall_kiosk_id() RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = {s}, pg_temp
    AS $$ SELECT id FROM {s}.kiosks WHERE db_role = session_user AND left_at IS NULL AND NOT is_admin $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_heartbeat(queue bigint, acked bigint, gallery bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
BEGIN
    IF queue IS NULL OR acked IS NULL OR gallery IS NULL OR queue < 0 OR acked < 0 OR gallery < 0
       OR gallery > (SELECT m.gallery_version FROM {s}.site_meta m) THEN
        RAISE EXCEPTION 'rollcall_heartbeat: an argument is out of range' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE {s}.kiosks k SET last_contact = now(), queue_length = queue, gallery_version = gallery,
        acked_seq = greatest(k.acked_seq, least(acked, (SELECT coalesce(max(e.kiosk_seq), 0) FROM {s}.events e
                                                       WHERE e.kiosk_id = k.id)))
    WHERE k.db_role = session_user AND k.left_at IS NULL;
END $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_leave() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {s}, pg_temp AS $$
DECLARE
    login text := session_user;
    grp text;
BEGIN
    UPDATE {s}.kiosks SET left_at = now() WHERE db_role = login AND left_at IS NULL;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    BEGIN  -- the login stops working at once (the admin station's next sync retires it otherwise)
        FOR grp IN SELECT g.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
                   JOIN pg_catalog.pg_roles r ON r.oid = m.member WHERE r.rolname = login LOOP
            EXECUTE pg_catalog.format('REVOKE %I FROM %I', grp, login);
        END LOOP;
        EXECUTE pg_catalog.format('ALTER ROLE %I NOLOGIN PASSWORD NULL', login);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'rollcall_leave: % keeps its login until the admin station syncs', login;
    END;
END $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_site_events(after_received timestamptz, after_id bigint,
                                                    except_kiosk integer, max_rows integer)
    RETURNS TABLE (id bigint, event_uuid text, person_uuid text, kind text, kiosk_time timestamptz,
                   offset_min integer, source text, similarity real, track_id integer, revision integer,
                   station text, received_at timestamptz)
    LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = {s}, pg_temp
    AS $$ SELECT e.id, e.event_uuid::text, e.person_uuid::text, e.kind, e.kiosk_time, e.kiosk_utc_offset_min,
                 e.source, e.similarity, e.track_id, e.revision, k.name, e.received_at
          FROM {s}.events e JOIN {s}.kiosks k ON k.id = e.kiosk_id
          WHERE (e.received_at, e.id) > (after_received, after_id) AND e.kiosk_id <> except_kiosk
          ORDER BY e.received_at, e.id LIMIT least(greatest(max_rows, 1), 10000) $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_reported_up_to() RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = {s}, pg_temp
    AS $$ SELECT min(CASE WHEN k.queue_length = 0 AND k.last_contact IS NOT NULL THEN k.last_contact
                          ELSE coalesce((SELECT max(e.kiosk_time) FROM {s}.events e
                                         WHERE e.kiosk_id = k.id AND e.kiosk_seq <= k.acked_seq), k.joined_at) END)
          FROM {s}.kiosks k WHERE k.left_at IS NULL
               AND (NOT k.is_admin OR EXISTS (SELECT 1 FROM {s}.events e WHERE e.kiosk_id = k.id)) $$;
CREATE FUNCTION {s}.rollcall_received_now() RETURNS trigger LANGUAGE plpgsql SET search_path = {s}, pg_temp AS $$
BEGIN  -- a moved event, or a kept face sent again after a better look, is received anew
    IF TG_TABLE_NAME = 'events' THEN
        IF NEW.revision IS DISTINCT FROM OLD.revision THEN
            NEW.received_at := now();
        END IF;
    ELSIF (NEW.vector, NEW.crop_jpeg) IS DISTINCT FROM (OLD.vector, OLD.crop_jpeg) THEN
        NEW.received_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER events_moved_received_now BEFORE UPDATE ON {s}.events
    FOR EACH ROW EXECUTE FUNCTION {s}.rollcall_received_now();
CREATE TRIGGER unknown_faces_received_now BEFORE UPDATE ON {s}.unknown_faces
    FOR EACH ROW EXECUTE FUNCTION {s}.rollcall_received_now();
DO $$ DECLARE check_name text; BEGIN
    FOR check_name IN SELECT conname FROM pg_catalog.pg_constraint
                      WHERE conrelid = '{s}.erasures'::regclass AND contype = 'c' LOOP
        EXECUTE pg_catalog.format('ALTER TABLE {s}.erasures DROP CONSTRAINT %I', check_name);
    END LOOP;
END $$;
ALTER TABLE {s}.erasures ADD CONSTRAINT erasures_kind_check CHECK (kind IN ('person', 'sample', 'merged', 'face')),
    ADD CONSTRAINT erasures_merged_into_check CHECK ((kind IN ('merged', 'face')) = (merged_into IS NOT NULL));
UPDATE {s}.erasures SET uuid = left(encode(sha256(convert_to('rollcall-erased:' || uuid::text, 'UTF8')), 'hex'),
                                     32)::uuid WHERE kind = 'person';
UPDATE {s}.events SET received_at = now() WHERE received_at > now();
UPDATE {s}.unknown_faces SET received_at = now() WHERE received_at > now();
UPDATE {s}.correction_faces SET received_at = now() WHERE received_at > now();
"""


# Derived templates (issue 34): what was drawn on a sample (a mask, glasses); NULL for a photo.
_MIGRATION_DERIVED = "ALTER TABLE samples ADD COLUMN IF NOT EXISTS derived text"


def _migration_6(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(psycopg.sql.SQL(_MIGRATION_6).format(s=psycopg.sql.Identifier(schema)))


# SQL, or a step that needs the schema's name. A string: evaluating psycopg.Connection here would load the driver.
Migration: TypeAlias = "str | Callable[[psycopg.Connection, str], None]"

# Ordered server migrations: SERVER_MIGRATIONS[i] brings rollcall_schema.version i to i + 1. Append, never edit.
SERVER_MIGRATIONS: list[Migration] = [_MIGRATION_1, _MIGRATION_2, _MIGRATION_3, _MIGRATION_4, _MIGRATION_5,
                                      _migration_6, migrate_reporting, migrate_intake, _MIGRATION_DERIVED]


def site_schema(conn: psycopg.Connection) -> str:
    """The schema the site's tables live in (where the owner's search_path put them: usually public)."""
    found = conn.execute("SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                         " WHERE c.oid = to_regclass('rollcall_schema')").fetchone()
    return found[0] if found else conn.execute("SELECT current_schema()").fetchone()[0]


def schema_version(conn: psycopg.Connection) -> int:
    exists = conn.execute("SELECT to_regclass('rollcall_schema') IS NOT NULL").fetchone()[0]
    return conn.execute("SELECT version FROM rollcall_schema").fetchone()[0] if exists else 0


def migrate(conn: psycopg.Connection) -> int:
    """Bring the server schema up to date (one transaction, serialised); returns the version."""
    with conn.transaction():
        if conn.execute("SELECT to_regclass('rollcall_schema') IS NOT NULL").fetchone()[0]:
            conn.execute("LOCK TABLE rollcall_schema IN SHARE ROW EXCLUSIVE MODE")  # no kiosk can take this lock
        else:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])  # a new site: no kiosk login yet
        version = schema_version(conn)
        if version > len(SERVER_MIGRATIONS):
            raise SiteError(f"The site server's schema is version {version}; this Rollcall knows up to "
                            f"{len(SERVER_MIGRATIONS)}. Update Rollcall on this station.", SiteProblem.NEWER_SCHEMA)
        if version < len(SERVER_MIGRATIONS) and version:  # a kiosk's open transaction is named, not waited on
            lock_or_name_holders(conn, ("events", "kiosks", "unknown_faces", "correction_faces", "hr_book"))
        for number in range(version + 1, len(SERVER_MIGRATIONS) + 1):
            step = SERVER_MIGRATIONS[number - 1]
            if isinstance(step, str):
                conn.execute(step)
            else:
                step(conn, site_schema(conn))
            conn.execute("UPDATE rollcall_schema SET version = %s", [number])
        group = kiosk_group_role(conn.info.dbname)
        if version < len(SERVER_MIGRATIONS) or not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [group]).fetchone():
            grant_kiosk_rights(conn, site_schema(conn))
            harden_server(conn, group, reporter_prefix(conn.info.dbname))
    return len(SERVER_MIGRATIONS)


def check_schema(conn: psycopg.Connection) -> None:
    version = schema_version(conn)
    if version > len(SERVER_MIGRATIONS):
        raise SiteError(f"The site server's schema is version {version}; this Rollcall knows up to "
                        f"{len(SERVER_MIGRATIONS)}. Update Rollcall on this station.", SiteProblem.NEWER_SCHEMA)
    if version < len(SERVER_MIGRATIONS):
        raise SiteError("The site server's schema is older than this Rollcall; run `rollcall site sync` on the "
                        "admin station once to update it.", SiteProblem.NEWER_SCHEMA)
