"""Joining a site on the server: an admin station's `site init`, a kiosk's `site join`, and what a
station forgets when it leaves. The Site (core.site.service) records the outcome locally."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from core.base.settings import SiteSettings
from core.gallery.store import GalleryStore
from core.site import attendance as site_attendance
from core.site import gallery as site_gallery
from core.site import outbox, trust
from core.site.connection import Credentials, SiteError, SiteProblem, connect, server_error, unreachable
from core.site.driver import psycopg
from core.site.records import (
    BOOK_DIRTY_KEY,
    DIRTY_KEY,
    KIOSK_ID_KEY,
    LAST_ERROR_KEY,
    LAST_SYNC_KEY,
    ROLE_KEY,
    STATION_KEY,
)
from core.site.roles import Registration, can_administer, register_station
from core.site.schema import check_schema, migrate

# What a station keeps when it leaves: said by `rollcall site leave`, documented in docs/security.md.
LEFT_KIOSK_KEEPS = ("It keeps its copy as of its last sync: the people's names and face templates (no face photos), "
                    "its own events and the strangers' faces it kept, and the other stations' events it copied. "
                    "Erasures made on the admin station from now on never reach it: wipe its data folder when the "
                    "PC leaves service.")
LEFT_ADMIN_KEEPS = ("It keeps everything it had: the people with their face photos and templates, and the site's "
                    "events it copied; the site server keeps them too.")

# What a station forgets of its site when it leaves (its local rows stay).
SITE_META_KEYS = (ROLE_KEY, STATION_KEY, KIOSK_ID_KEY, LAST_SYNC_KEY, LAST_ERROR_KEY, DIRTY_KEY, outbox.ACKED_KEY,
                  site_gallery.GALLERY_VERSION_KEY, site_gallery.ACTIVE_MODEL_KEY, BOOK_DIRTY_KEY,
                  site_attendance.MIRROR_CURSOR_KEY, site_attendance.FACES_CURSOR_KEY, site_attendance.REPORTED_KEY,
                  site_attendance.CORRECTION_FACES_SENT_KEY, site_attendance.CORRECTION_FACES_CURSOR_KEY,
                  site_attendance.BOOK_VERSION_KEY, site_attendance.BOOK_INCOMPLETE_KEY, trust.SKIPPED_KEY)


def admin_connection(credentials: Credentials, settings: SiteSettings) -> psycopg.Connection:
    """A connection as the database's owner (or a superuser), or SiteError."""
    conn = connect(credentials, settings)
    if not can_administer(conn):
        conn.close()
        raise SiteError(f"{credentials.redacted} is not the database's owner. `site init` and `site join` need "
                        "the owner's (or a superuser's) address; kiosks then get their own role.",
                        SiteProblem.NOT_ALLOWED)
    return conn


@contextmanager
def joining_errors(credentials: Credentials) -> Iterator[None]:
    """psycopg's errors while joining, as messages a user can act on."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SiteError(f"The server refused: {exc.diag.message_primary}. The address given to `site init` or "
                        "`site join` must be the database owner's, with the CREATEROLE right.",
                        SiteProblem.NOT_ALLOWED) from None
    except psycopg.OperationalError as exc:
        raise unreachable(credentials, exc) from None
    except psycopg.Error as exc:
        raise server_error(exc) from None


def init_on_server(store: GalleryStore, credentials: Credentials, settings: SiteSettings,
                   station: str) -> tuple[int, int]:
    """Create or update the schema, register the admin station, upload the local gallery and pull it back.

    Returns (the station's id, the highest sequence number the server has of it)."""
    with joining_errors(credentials), admin_connection(credentials, settings) as conn:
        migrate(conn)
        registered = register_station(conn, station, is_admin=True)
        site_gallery.push(conn, store.site_gallery(), store.active_model_id())
        site_gallery.pull(conn, store, with_crops=True)
    return registered.kiosk_id, registered.high_seq


def join_on_server(store: GalleryStore, admin: Credentials, settings: SiteSettings,
                   kiosk: str) -> tuple[Registration, Credentials]:
    """Register a kiosk with its own least-privilege login (an earlier copy's login under the same name is
    retired), then pull the gallery through that login. Returns the registration and the kiosk's credentials."""
    with joining_errors(admin), admin_connection(admin, settings) as conn:
        check_schema(conn)
        registered = register_station(conn, kiosk, is_admin=False)
    assert registered.login is not None and registered.password is not None
    own = admin.with_login(registered.login, registered.password)
    with joining_errors(own), connect(own, settings) as conn:  # the kiosk's own login works first
        site_gallery.pull(conn, store, with_crops=False)
    return registered, own


def replaced_notice(kiosk: str, registered: Registration) -> str | None:
    """What a join in place of an earlier copy of the kiosk means for that copy, or None."""
    if not registered.replaced:
        return None
    seen = registered.earlier_contact.isoformat(timespec="minutes") if registered.earlier_contact else "never"
    stranded = (f" At its last contact ({seen}) it still held {registered.stranded} events that never reached the "
                "server: they stay on that PC only. Bring them over by joining from that folder again, or accept "
                "their loss." if registered.stranded else "")
    return (f"This station replaces the earlier copy of kiosk {kiosk!r}; that copy's login no longer works.{stranded}"
            " Its data folder still holds the gallery's names and face templates: wipe it.")
