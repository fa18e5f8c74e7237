-- The PostgreSQL role the Qujat service runs as, with the history log
-- append-only for it.
--
-- Run it as the owner of the schema (the role that ran `qujat migrate`),
-- with search_path set to that schema, after every migration:
--
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/postgres-log-role.sql
--
-- It creates the group role qujat_service (NOLOGIN) if it does not exist,
-- lets it use the schema and read and write the wallet's tables, and then
-- takes back, on the history log's tables, everything but INSERT and
-- SELECT: no UPDATE, DELETE or TRUNCATE of a leaf, a hash, a chain entry
-- or a checkpoint. Payloads (log_payloads) may also be deleted, when their
-- retention ends. Give the service's login role membership:
--
--   CREATE ROLE qujat_app LOGIN PASSWORD '...' IN ROLE qujat_service;
--
-- The owner can still change anything: keep its credentials away from the
-- service, and let `qujat audit verify` and published checkpoints catch
-- what it does.

DO $$
BEGIN
    CREATE ROLE qujat_service NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL; -- it exists (unique_violation: created this instant by another session)
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO qujat_service', current_schema());
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO qujat_service', current_schema());
END
$$;

REVOKE ALL ON log_leaves, log_hashes, log_parties, log_checkpoints, log_payloads FROM qujat_service;
GRANT SELECT, INSERT ON log_leaves, log_hashes, log_parties, log_checkpoints TO qujat_service;
GRANT SELECT, INSERT, DELETE ON log_payloads TO qujat_service;
