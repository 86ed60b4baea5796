"""No writes outside the site's schema: large objects, temporary objects and CREATE are taken from PUBLIC
(every kiosk and reporting login) on the whole cluster, and each login gets session limits.

Much of this needs a superuser (pg_catalog's functions, other databases, temp_file_limit): each statement is
tried on its own, and what the owner could not do is listed by `hardening_gaps` (the admin's `site status`),
with the statements a superuser runs once (docs/security.md, "Server settings").
"""

from __future__ import annotations

import logging

from core.site.driver import psycopg

log = logging.getLogger(__name__)

# Functions that create or write large objects (reading others' needs lo_compat_privileges, which stays off).
LARGE_OBJECT_WRITERS = ("lo_creat(integer)", "lo_create(oid)", "lo_from_bytea(oid, bytea)", "lo_import(text)",
                        "lo_import(text, oid)", "lo_put(oid, bigint, bytea)", "lowrite(integer, bytea)")
# Per login (a login's own settings; a group's are not inherited). temp_file_limit needs a superuser.
KIOSK_SESSION_LIMITS = {"statement_timeout": "60s", "idle_in_transaction_session_timeout": "60s",
                        "temp_file_limit": "64MB"}
REPORTER_SESSION_LIMITS = {"statement_timeout": "300s", "idle_in_transaction_session_timeout": "60s",
                           "temp_file_limit": "256MB"}


def _try(conn: psycopg.Connection, statement: psycopg.sql.Composable) -> bool:
    """Run one statement in a savepoint; False (logged) when the server refuses it."""
    try:
        with conn.transaction():
            conn.execute(statement)
        return True
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedFunction) as exc:
        log.info("Server hardening step not allowed to this login: %s", exc.diag.message_primary)
        return False


def limit_sessions(conn: psycopg.Connection, login: str, limits: dict[str, str]) -> None:
    """The login's own defaults: statement and idle-in-transaction timeouts, and temp_file_limit where allowed."""
    sql = psycopg.sql
    for name, value in limits.items():
        _try(conn, sql.SQL("ALTER ROLE {} SET {} = {}").format(sql.Identifier(login), sql.Identifier(name),
                                                                sql.Literal(value)))


def harden_server(conn: psycopg.Connection, kiosk_group: str, reporter_prefix: str) -> None:
    """Take large objects, TEMP and CREATE from PUBLIC (in every database this login may change), and give
    every current kiosk and reporting login its session limits."""
    sql = psycopg.sql
    for function in LARGE_OBJECT_WRITERS:
        _try(conn, sql.SQL("REVOKE EXECUTE ON FUNCTION pg_catalog." + function + " FROM PUBLIC"))
    databases = [r[0] for r in conn.execute(
        "SELECT d.datname FROM pg_database d WHERE d.datname <> 'template0' AND (pg_has_role(d.datdba, 'MEMBER')"
        " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))").fetchall()]
    for database in databases:
        _try(conn, sql.SQL("REVOKE CREATE, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    members = conn.execute(
        "SELECT r.rolname, g.rolname = %s FROM pg_roles r LEFT JOIN pg_auth_members m ON m.member = r.oid"
        " LEFT JOIN pg_roles g ON g.oid = m.roleid WHERE r.rolcanlogin AND (g.rolname = %s OR r.rolname LIKE %s)",
        [kiosk_group, kiosk_group, reporter_prefix.replace("_", "\\_") + "%"]).fetchall()
    for login, is_kiosk in members:
        limit_sessions(conn, login, KIOSK_SESSION_LIMITS if is_kiosk else REPORTER_SESSION_LIMITS)


def hardening_gaps(conn: psycopg.Connection) -> list[str]:
    """What a kiosk or reporting login may still write outside the site's schema, as sentences."""
    gaps = []
    with conn.transaction():
        if conn.execute("SELECT current_setting('lo_compat_privileges')::boolean").fetchone()[0]:
            gaps.append("lo_compat_privileges is on: any login may read and write every large object")
        writers = [f for f in LARGE_OBJECT_WRITERS if conn.execute(
            "SELECT has_function_privilege('public', %s, 'EXECUTE')", ["pg_catalog." + f]).fetchone()[0]]
        if writers:
            gaps.append(f"every login may store large objects in this database ({writers[0].split('(')[0]} …)")
        temp = [r[0] for r in conn.execute(
            "SELECT d.datname FROM pg_database d WHERE d.datallowconn AND (d.datacl IS NULL OR EXISTS (SELECT 1 FROM"
            " aclexplode(d.datacl) a WHERE a.grantee = 0 AND a.privilege_type IN ('TEMPORARY', 'CREATE')))"
            " ORDER BY 1").fetchall()]
        if temp:
            gaps.append(f"every login may create temporary tables or schemas in database {', '.join(temp)}")
    return gaps
