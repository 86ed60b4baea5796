"""The Engine's reporting operations on the site server: read-only logins for BI tools, and the day statuses
their views read (core.site.reporting). The admin station's to run."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from core.app.engine_state import EngineState
from core.base.errors import InvalidInputError
from core.base.timekeeping import PersonDay
from core.site.connection import connect, server_error
from core.site.driver import psycopg
from core.site.records import SiteRole
from core.site.reporting import ReporterLogin, create_reporter, publish_days

MAX_PUBLISH_DAYS = 366


class ReportingOperations(EngineState):
    """Mixed into Engine: uses its site (the owner's credentials), store and attendance rules."""

    if TYPE_CHECKING:  # AttendanceOperations'

        def day_board(self, day: date | None = None, group: str | None = None) -> list[PersonDay]: ...

    def _site_owner_connection(self) -> Any:
        if self.site.role is not SiteRole.ADMIN:
            raise InvalidInputError("Reporting logins and day statuses are the site's admin station's to manage.")
        return connect(self.site.credentials(), self.settings.site)

    def create_site_reporter(self, name: str) -> ReporterLogin:
        """A login that reads the reporting views and nothing else; its password is shown once."""
        conn = self._site_owner_connection()
        try:
            return create_reporter(conn, name)
        except psycopg.Error as exc:
            raise server_error(exc) from None
        finally:
            conn.close()

    def publish_site_reports(self, first: date, last: date) -> int:
        """Every person's day status from first to last, as the rules decide them here, for the day_status
        and timesheet views; returns the rows written."""
        if not 0 <= (last - first).days < MAX_PUBLISH_DAYS:
            raise InvalidInputError(f"Publish from 1 to {MAX_PUBLISH_DAYS} days, the first before the last.")
        uuids = {person_id: uuid for uuid, person_id in self.store.person_ids_by_uuid().items()}
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        rows = [(uuids[d.person_id], d) for day in days for d in self.day_board(day) if d.person_id in uuids]
        conn = self._site_owner_connection()
        try:
            return publish_days(conn, rows)
        except psycopg.Error as exc:
            raise server_error(exc) from None
        finally:
            conn.close()
