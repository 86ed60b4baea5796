"""What the server accepts from a station (schema 8): CHECK constraints and triggers that a kiosk cannot drop.

- Every value a station writes is checked: similarity and detection probability finite and in range, the UTC
  offset within +-18 h, the time finite, not ahead of the server's clock beyond the allowed skew and not before
  the station joined, `kiosk_day` matching time and offset, sequence numbers positive and rising per station,
  the person existing (null only for `unknown`), text and faces capped, templates of the model's dimension
  with finite values.
- A station may change its own events only as a correction does: every change raises `revision`.
- Quotas: rows and bytes per station and hour, counted by the server (`station_intake`); beyond them the
  statement is refused with QUOTA_SQLSTATE and the station's queue waits.
- How far a station holds the site's absences pending (`rollcall_station_reports`): never before it joined,
  never further back than `pending_reach`, never into a locked month.

The limits live in `site_limits`, written by the admin station from Settings.site (`write_limits`).
"""

from __future__ import annotations

from datetime import timedelta

from core.base.settings import SiteSettings
from core.site.driver import psycopg

QUOTA_SQLSTATE = "RC429"  # a station's uploads are over its hourly quota
MAX_OFFSET_MIN = 18 * 60  # UTC offsets run from -18 h to +18 h
MAX_SIMILARITY = 1000  # a fused model's score is in impostor standard deviations, not a cosine
MAX_SOURCE_BYTES = 256  # a camera's name or address
MAX_CROP_BYTES = 1 << 20  # a face crop (about 6 KB as JPEG)
MAX_MODEL_ID_BYTES = 200
MAX_FACE_PX = 100_000
EVENT_ROW_BYTES = 120  # what an event costs besides its source text (for the byte quota)
FACE_ROW_BYTES = 60
MIB = 1 << 20

_INTAKE_MIGRATION = """
CREATE TABLE IF NOT EXISTS {s}.site_limits (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    rows_per_hour bigint NOT NULL CHECK (rows_per_hour > 0), bytes_per_hour bigint NOT NULL CHECK (bytes_per_hour > 0),
    clock_skew interval NOT NULL CHECK (clock_skew >= interval '0'),
    pending_reach interval NOT NULL CHECK (pending_reach > interval '0'));
INSERT INTO {s}.site_limits (rows_per_hour, bytes_per_hour, clock_skew, pending_reach)
    VALUES ({rows}, {bytes}, {skew}, {reach}) ON CONFLICT (one) DO NOTHING;
CREATE TABLE IF NOT EXISTS {s}.station_intake (
    kiosk_id integer PRIMARY KEY REFERENCES {s}.kiosks (id) ON DELETE CASCADE,
    high_seq bigint NOT NULL DEFAULT 0, hour timestamptz NOT NULL DEFAULT date_trunc('hour', now()),
    rows bigint NOT NULL DEFAULT 0, bytes bigint NOT NULL DEFAULT 0, refused_at timestamptz);
INSERT INTO {s}.station_intake (kiosk_id, high_seq)
    SELECT k.id, coalesce((SELECT max(e.kiosk_seq) FROM {s}.events e WHERE e.kiosk_id = k.id), 0) FROM {s}.kiosks k
    ON CONFLICT (kiosk_id) DO UPDATE SET high_seq = greatest({s}.station_intake.high_seq, excluded.high_seq);

ALTER TABLE {s}.events
    DROP CONSTRAINT IF EXISTS events_similarity_range, DROP CONSTRAINT IF EXISTS events_offset_range,
    DROP CONSTRAINT IF EXISTS events_time_finite, DROP CONSTRAINT IF EXISTS events_day_matches,
    DROP CONSTRAINT IF EXISTS events_seq_positive, DROP CONSTRAINT IF EXISTS events_revision_positive,
    DROP CONSTRAINT IF EXISTS events_person_for_kind, DROP CONSTRAINT IF EXISTS events_source_length,
    DROP CONSTRAINT IF EXISTS events_person_exists;
ALTER TABLE {s}.events
    ADD CONSTRAINT events_similarity_range
        CHECK (similarity BETWEEN -{similarity} AND {similarity} AND (kind = 'unknown' OR similarity >= 0)) NOT VALID,
    ADD CONSTRAINT events_offset_range CHECK (kiosk_utc_offset_min BETWEEN -{offset} AND {offset}) NOT VALID,
    ADD CONSTRAINT events_time_finite CHECK (isfinite(kiosk_time)) NOT VALID,
    ADD CONSTRAINT events_day_matches CHECK (kiosk_day = ((kiosk_time AT TIME ZONE 'UTC')
                                             + make_interval(mins => kiosk_utc_offset_min))::date) NOT VALID,
    ADD CONSTRAINT events_seq_positive CHECK (kiosk_seq > 0) NOT VALID,
    ADD CONSTRAINT events_revision_positive CHECK (revision >= 0) NOT VALID,
    ADD CONSTRAINT events_person_for_kind CHECK ((kind = 'unknown') = (person_uuid IS NULL)) NOT VALID,
    ADD CONSTRAINT events_source_length CHECK (octet_length(source) <= {source}) NOT VALID,
    ADD CONSTRAINT events_person_exists FOREIGN KEY (person_uuid) REFERENCES {s}.people (uuid) ON DELETE CASCADE
        NOT VALID;
ALTER TABLE {s}.unknown_faces
    DROP CONSTRAINT IF EXISTS unknown_faces_values, DROP CONSTRAINT IF EXISTS unknown_faces_sizes;
ALTER TABLE {s}.unknown_faces
    ADD CONSTRAINT unknown_faces_values CHECK (det_prob BETWEEN 0 AND 1 AND face_px BETWEEN 1 AND {face_px}
                                               AND sharpness >= 0 AND sharpness < 'Infinity') NOT VALID,
    ADD CONSTRAINT unknown_faces_sizes CHECK (octet_length(crop_jpeg) <= {crop}
                                              AND octet_length(model_id) <= {model_id}) NOT VALID;
ALTER TABLE {s}.correction_faces DROP CONSTRAINT IF EXISTS correction_faces_size;
ALTER TABLE {s}.correction_faces ADD CONSTRAINT correction_faces_size CHECK (octet_length(crop_jpeg) <= {crop})
    NOT VALID;

CREATE OR REPLACE FUNCTION {s}.rollcall_charge(station integer, added_rows bigint, added_bytes bigint,
                                               first_seq bigint, last_seq bigint, seq_count bigint)
    RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
DECLARE
    lim {s}.site_limits%ROWTYPE;
    used {s}.station_intake%ROWTYPE;
    this_hour timestamptz := date_trunc('hour', now());
    station_name text := (SELECT k.name FROM {s}.kiosks k WHERE k.id = station);
BEGIN
    SELECT * INTO lim FROM {s}.site_limits;
    INSERT INTO {s}.station_intake (kiosk_id) VALUES (station) ON CONFLICT (kiosk_id) DO NOTHING;
    SELECT * INTO used FROM {s}.station_intake i WHERE i.kiosk_id = station FOR UPDATE;
    IF first_seq IS NOT NULL AND (first_seq <= used.high_seq OR seq_count <> added_rows) THEN
        RAISE EXCEPTION 'station % sent sequence number % after %: a station''s sequence numbers rise',
            station_name, first_seq, used.high_seq USING ERRCODE = 'check_violation';
    END IF;
    IF used.hour < this_hour THEN
        used.rows := 0;
        used.bytes := 0;
    END IF;
    IF used.rows + added_rows > lim.rows_per_hour OR used.bytes + added_bytes > lim.bytes_per_hour THEN
        RAISE EXCEPTION 'station % is over its quota: % rows and % bytes this hour would pass % rows or % bytes',
            station_name, used.rows + added_rows, used.bytes + added_bytes, lim.rows_per_hour, lim.bytes_per_hour
            USING ERRCODE = '{quota}',
                  HINT = 'Its events stay queued on the station and go after ' || (this_hour + interval '1 hour');
    END IF;
    UPDATE {s}.station_intake i SET hour = this_hour, rows = used.rows + added_rows,
        bytes = used.bytes + added_bytes, high_seq = greatest(i.high_seq, coalesce(last_seq, 0))
    WHERE i.kiosk_id = station;
END $$;

CREATE OR REPLACE FUNCTION {s}.rollcall_check_time(station integer, moment timestamptz, event uuid)
    RETURNS void LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = {s}, pg_temp AS $$
DECLARE
    skew interval := (SELECT l.clock_skew FROM {s}.site_limits l);
    k {s}.kiosks%ROWTYPE;
BEGIN
    SELECT * INTO k FROM {s}.kiosks WHERE id = station;
    IF moment > now() + skew OR (NOT k.is_admin AND moment < k.joined_at - skew) THEN
        RAISE EXCEPTION 'event % of station % is dated %: the server takes times from the station''s joining (%) '
                        'to its own clock (%) give or take %', event, k.name, moment, k.joined_at, now(), skew
            USING ERRCODE = 'check_violation', HINT = 'Set the station''s clock right; the event stays queued there.';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION {s}.rollcall_events_added() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {s}, pg_temp AS $$
DECLARE
    bad record;
    st record;
BEGIN
    SELECT a.kiosk_id, a.kiosk_time, a.event_uuid INTO bad FROM added a JOIN {s}.kiosks k ON k.id = a.kiosk_id
    WHERE a.kiosk_time > now() + (SELECT l.clock_skew FROM {s}.site_limits l)
       OR (NOT k.is_admin AND a.kiosk_time < k.joined_at - (SELECT l.clock_skew FROM {s}.site_limits l)) LIMIT 1;
    IF FOUND THEN
        PERFORM {s}.rollcall_check_time(bad.kiosk_id, bad.kiosk_time, bad.event_uuid);
    END IF;
    FOR st IN SELECT a.kiosk_id, count(*) AS n, sum(octet_length(a.source) + {event_bytes}) AS bytes,
                     min(a.kiosk_seq) AS low, max(a.kiosk_seq) AS high, count(DISTINCT a.kiosk_seq) AS seqs
              FROM added a GROUP BY a.kiosk_id LOOP
        PERFORM {s}.rollcall_charge(st.kiosk_id, st.n, st.bytes, st.low, st.high, st.seqs);
    END LOOP;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS events_added_checked ON {s}.events;
CREATE TRIGGER events_added_checked AFTER INSERT ON {s}.events REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.rollcall_events_added();

CREATE OR REPLACE FUNCTION {s}.rollcall_event_moved() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {s}, pg_temp AS $$
BEGIN  -- a station changes its event only as a correction does: a higher revision, a new sequence number
    IF (NEW.kind, NEW.kiosk_time, NEW.kiosk_day, NEW.kiosk_utc_offset_min, NEW.source, NEW.similarity,
        NEW.track_id, NEW.kiosk_seq, NEW.revision, NEW.kiosk_id, NEW.event_uuid)
       IS NOT DISTINCT FROM (OLD.kind, OLD.kiosk_time, OLD.kiosk_day, OLD.kiosk_utc_offset_min, OLD.source,
                             OLD.similarity, OLD.track_id, OLD.kiosk_seq, OLD.revision, OLD.kiosk_id, OLD.event_uuid)
    THEN
        RETURN NEW;  -- the owner's merge (person_uuid) or a receive time put right
    END IF;
    IF NEW.revision <= OLD.revision OR NEW.kiosk_seq <= OLD.kiosk_seq OR NEW.kiosk_id <> OLD.kiosk_id
       OR NEW.event_uuid <> OLD.event_uuid OR NEW.kind <> OLD.kind THEN  -- a correction moves, never re-kinds
        RAISE EXCEPTION 'event % was changed without a higher revision and sequence number (revision % to %)',
            OLD.event_uuid, OLD.revision, NEW.revision USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.kiosk_time IS DISTINCT FROM OLD.kiosk_time THEN
        PERFORM {s}.rollcall_check_time(NEW.kiosk_id, NEW.kiosk_time, NEW.event_uuid);
    END IF;
    PERFORM {s}.rollcall_charge(NEW.kiosk_id, 1, octet_length(NEW.source) + {event_bytes}, NULL, NULL, NULL);
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS events_move_checked ON {s}.events;
CREATE TRIGGER events_move_checked BEFORE UPDATE ON {s}.events
    FOR EACH ROW EXECUTE FUNCTION {s}.rollcall_event_moved();

CREATE OR REPLACE FUNCTION {s}.rollcall_face_checked() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = {s}, pg_temp AS $$
DECLARE
    station integer := (SELECT e.kiosk_id FROM {s}.events e WHERE e.event_uuid = NEW.event_uuid);
    dim integer;
BEGIN
    IF TG_TABLE_NAME = 'unknown_faces' THEN
        IF TG_OP = 'INSERT' OR (NEW.model_id, NEW.vector) IS DISTINCT FROM (OLD.model_id, OLD.vector) THEN
            dim := (SELECT m.embedding_size FROM {s}.models m WHERE m.id = NEW.model_id);
            IF dim IS NULL OR octet_length(NEW.vector) <> 4 * dim THEN
                RAISE EXCEPTION 'the face of event % has a template of % bytes; model % takes % floats',
                    NEW.event_uuid, octet_length(NEW.vector), NEW.model_id, dim USING ERRCODE = 'check_violation';
            END IF;
            IF EXISTS (SELECT 1 FROM generate_series(0, dim - 1) i WHERE get_byte(NEW.vector, 4 * i + 3) & 127 = 127
                       AND get_byte(NEW.vector, 4 * i + 2) & 128 = 128) THEN
                RAISE EXCEPTION 'the face of event % has a template that is not finite', NEW.event_uuid
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        PERFORM {s}.rollcall_charge(station, 1, octet_length(NEW.vector) + octet_length(NEW.crop_jpeg)
                                                + {face_bytes}, NULL, NULL, NULL);
    ELSE
        PERFORM {s}.rollcall_charge(station, 1, octet_length(NEW.crop_jpeg) + {face_bytes}, NULL, NULL, NULL);
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS unknown_faces_checked ON {s}.unknown_faces;
CREATE TRIGGER unknown_faces_checked BEFORE INSERT OR UPDATE ON {s}.unknown_faces
    FOR EACH ROW EXECUTE FUNCTION {s}.rollcall_face_checked();
DROP TRIGGER IF EXISTS correction_faces_checked ON {s}.correction_faces;
CREATE TRIGGER correction_faces_checked BEFORE INSERT ON {s}.correction_faces
    FOR EACH ROW EXECUTE FUNCTION {s}.rollcall_face_checked();

CREATE OR REPLACE FUNCTION {s}.rollcall_upload_refused() RETURNS void LANGUAGE sql SECURITY DEFINER
    SET search_path = {s}, pg_temp
    AS $$ UPDATE {s}.station_intake SET refused_at = now() WHERE kiosk_id = {s}.rollcall_kiosk_id() $$;

CREATE OR REPLACE FUNCTION {s}.rollcall_locked_until() RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = {s}, pg_temp
    AS $$ SELECT CASE WHEN count(*) > 0 THEN least(now(), max(((m ->> 'month') || '-01')::date + interval '1 month'
                                  + make_interval(mins => {offset}))::timestamp AT TIME ZONE 'UTC') END
          FROM {s}.hr_book b CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(b.body -> 'month_locks')
                                                = 'array' THEN b.body -> 'month_locks' ELSE '[]' END) m
          WHERE m ->> 'month' ~ '^[0-9]{{4}}-(0[1-9]|1[0-2])$' $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_station_reports() RETURNS TABLE (station text, reported_up_to timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {s}, pg_temp
    AS $$ SELECT k.name, greatest(
                     CASE WHEN k.queue_length = 0 AND k.last_contact IS NOT NULL THEN k.last_contact
                          ELSE (SELECT max(e.kiosk_time) FROM {s}.events e WHERE e.kiosk_id = k.id
                                AND e.kiosk_seq <= k.acked_seq AND e.kiosk_time <= now()) END,
                     k.joined_at, now() - l.pending_reach, {s}.rollcall_locked_until())
          FROM {s}.kiosks k CROSS JOIN {s}.site_limits l WHERE k.left_at IS NULL
               AND (NOT k.is_admin OR EXISTS (SELECT 1 FROM {s}.events e WHERE e.kiosk_id = k.id))
          ORDER BY 2, 1 $$;
CREATE OR REPLACE FUNCTION {s}.rollcall_reported_up_to() RETURNS timestamptz LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = {s}, pg_temp
    AS $$ SELECT min(r.reported_up_to) FROM {s}.rollcall_station_reports() r $$;

UPDATE {s}.hr_book SET version = version + 1, changed_at = now(),
    body = jsonb_set(body, '{{leave}}', (SELECT coalesce(jsonb_agg(l || '{{"reason": ""}}'), '[]')
                                         FROM jsonb_array_elements(body -> 'leave') l))
WHERE jsonb_typeof(body -> 'leave') = 'array'
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(body -> 'leave') l WHERE coalesce(l ->> 'reason', '') <> '');
"""


def migrate_intake(conn: psycopg.Connection, schema: str) -> None:
    """Server migration 8: the checks, quotas and reporting reach above (safe to run again)."""
    sql = psycopg.sql
    defaults = SiteSettings()
    conn.execute(sql.SQL(_INTAKE_MIGRATION).format(
        s=sql.Identifier(schema), rows=sql.Literal(defaults.station_rows_per_hour),
        bytes=sql.Literal(defaults.station_mib_per_hour * MIB),
        skew=sql.Literal(timedelta(seconds=defaults.clock_skew_s)),
        reach=sql.Literal(timedelta(days=defaults.pending_reach_days)), offset=sql.Literal(MAX_OFFSET_MIN),
        similarity=sql.Literal(MAX_SIMILARITY),
        source=sql.Literal(MAX_SOURCE_BYTES), crop=sql.Literal(MAX_CROP_BYTES),
        model_id=sql.Literal(MAX_MODEL_ID_BYTES), face_px=sql.Literal(MAX_FACE_PX), quota=sql.SQL(QUOTA_SQLSTATE),
        event_bytes=sql.Literal(EVENT_ROW_BYTES), face_bytes=sql.Literal(FACE_ROW_BYTES)))


def write_limits(conn: psycopg.Connection, settings: SiteSettings) -> bool:
    """The admin station's Settings.site limits become the server's (True when they changed)."""
    values = [settings.station_rows_per_hour, settings.station_mib_per_hour * MIB,
              timedelta(seconds=settings.clock_skew_s), timedelta(days=settings.pending_reach_days)]
    with conn.transaction():
        return conn.execute(
            "UPDATE site_limits SET rows_per_hour = %s, bytes_per_hour = %s, clock_skew = %s, pending_reach = %s"
            " WHERE (rows_per_hour, bytes_per_hour, clock_skew, pending_reach) IS DISTINCT FROM (%s, %s, %s, %s)",
            values + values).rowcount > 0
