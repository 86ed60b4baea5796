"""Site mode: many stations, one PostgreSQL server (see docs/site.md and docs/security.md).

schema: the server's tables and versioned migrations. roles: station names, kiosk logins and their
least-privilege rights. connection: credentials (0600 file) and connecting with clear errors. outbox:
events up, by sequence number. gallery: people, samples and embeddings down by version number (and up
from an admin station), erasures. attendance: the site's events, HR book and kept faces. membership:
joining on the server. service: the station's role and one sync round as a generator; status, background
and model_sharing: its status, the syncing thread and trained models' files. driver: psycopg, loaded on
first use.
"""
