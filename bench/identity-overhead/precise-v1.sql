-- precise mode v1 (commit 97009d7): the statement trigger only, for bench/identity-overhead (its `off` arm removes
-- everything first). WHEN clause + multi-statement PL/pgSQL body; the DDL triggers and the config table are left out.
CREATE SCHEMA IF NOT EXISTS rowtrail;

REVOKE ALL ON SCHEMA rowtrail FROM PUBLIC;

CREATE FUNCTION rowtrail.capture_session() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
  st pg_catalog.timestamptz;
  qy pg_catalog.text;
BEGIN
  -- once per transaction: the trigger's WHEN clause skips the call while this is set (reverts at tx end).
  PERFORM pg_catalog.set_config('rowtrail.tx', '1', true);
  -- why: pg_logical_emit_message raises when wal_level < logical; a write must never fail because of rowtrail.
  IF pg_catalog.current_setting('wal_level') OPERATOR(pg_catalog.<>) 'logical' THEN RETURN NULL; END IF;
  -- backend start: read once per session (pg_stat_get_activity copies every backend entry), then remembered.
  IF pg_catalog.current_setting('rowtrail.session', true) IS DISTINCT FROM '1' THEN
    SELECT a.backend_start INTO st FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a;
    PERFORM pg_catalog.set_config('rowtrail.session', '1', false);
  END IF;
  qy := pg_catalog.current_query();
  IF pg_catalog.strpos(qy, '/*') OPERATOR(pg_catalog.=) 0 THEN qy := NULL; ELSE qy := pg_catalog.left(qy, 2048); END IF;
  PERFORM pg_catalog.pg_logical_emit_message(true, 'rowtrail', pg_catalog.json_build_array(1, pg_catalog.pg_backend_pid(), st,
    SESSION_USER, pg_catalog.current_setting('role'), pg_catalog.current_setting('application_name'),
    pg_catalog.inet_client_addr(), pg_catalog.current_setting('rowtrail.actor', true), qy)::pg_catalog.text);
  RETURN NULL;
END $fn$;

COMMENT ON FUNCTION rowtrail.capture_session() IS 'rowtrail precise v1';

DO $all$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::pg_catalog.regclass AS rel FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'rowtrail')
        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' LOOP
    EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER rowtrail_session BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT WHEN (pg_catalog.current_setting(''rowtrail.tx'', true) IS DISTINCT FROM ''1'') EXECUTE FUNCTION rowtrail.capture_session();', r.rel);
  END LOOP;
END $all$;

