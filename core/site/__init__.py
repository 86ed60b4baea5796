"""Site mode: many stations, one PostgreSQL server (see the README's "Site mode" section).

schema: the server's tables, versioned migrations and roles. connection: credentials (0600 file)
and connecting with clear errors. outbox: events up, by sequence number. gallery: people, samples
and embeddings down by version number (and up from an admin station). service: the station's
role and one sync round as a generator, plus the background syncer.
"""
