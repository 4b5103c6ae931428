-- rowtrail precise mode v2 (statement trigger body as one expression), frozen as a comparison arm for
-- bench/identity-overhead: installed on every table, without the DDL event triggers. Generated from
-- src/identity/postgres-precise.ts at commit 21738a6.
-- rowtrail precise identity v2
DO $cleanup$
DECLARE r record;
BEGIN
  FOR r IN SELECT t.tgname, t.tgrelid::pg_catalog.regclass AS rel FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) t.tgfoid
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) 'rowtrail' AND NOT t.tgisinternal LOOP
    EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', r.tgname, r.rel);
  END LOOP;
  FOR r IN SELECT e.evtname FROM pg_catalog.pg_event_trigger e
      JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) e.evtfoid
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) 'rowtrail' LOOP
    EXECUTE pg_catalog.format('DROP EVENT TRIGGER %I', r.evtname);
  END LOOP;
  FOR r IN SELECT p.oid::pg_catalog.regprocedure AS f FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
      WHERE n.nspname OPERATOR(pg_catalog.=) 'rowtrail' LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s', r.f);
  END LOOP;
END $cleanup$;

CREATE SCHEMA IF NOT EXISTS rowtrail;

REVOKE ALL ON SCHEMA rowtrail FROM PUBLIC;

CREATE TABLE IF NOT EXISTS rowtrail.precise_config (
  id int PRIMARY KEY CHECK (id = 1),
  version int NOT NULL,
  all_tables boolean NOT NULL,
  tables text[] NOT NULL,
  revoked_emit boolean NOT NULL DEFAULT false
);

REVOKE ALL ON rowtrail.precise_config FROM PUBLIC;

INSERT INTO rowtrail.precise_config (id, version, all_tables, tables, revoked_emit)
VALUES (1, 2, true, ARRAY[]::text[], COALESCE((SELECT revoked_emit FROM rowtrail.precise_config WHERE id = 1), false))
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, all_tables = EXCLUDED.all_tables, tables = EXCLUDED.tables;

CREATE FUNCTION rowtrail.session_start() RETURNS pg_catalog.timestamptz LANGUAGE plpgsql AS $fn$
DECLARE st pg_catalog.timestamptz;
BEGIN
  -- once per session: pg_stat_get_activity copies every backend entry; the session GUC remembers it was sent
  SELECT a.backend_start INTO st FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a;
  PERFORM pg_catalog.set_config('rowtrail.session', '1', false);
  RETURN st;
END $fn$;

COMMENT ON FUNCTION rowtrail.session_start() IS 'rowtrail precise v2';

CREATE FUNCTION rowtrail.capture_session() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $fn$
BEGIN
  -- one statement: the statement trigger's return value is ignored, and this is always NULL
  RETURN CASE WHEN pg_catalog.current_setting('rowtrail.tx', true) IS DISTINCT FROM 'rowtrail' THEN
    CASE WHEN pg_catalog.current_setting('wal_level') OPERATOR(pg_catalog.=) 'logical' THEN
      CASE WHEN pg_catalog.pg_logical_emit_message(true, pg_catalog.set_config('rowtrail.tx', 'rowtrail', true), pg_catalog.json_build_array(1,
        pg_catalog.pg_backend_pid(),
        CASE WHEN pg_catalog.current_setting('rowtrail.session', true) IS DISTINCT FROM '1' THEN rowtrail.session_start() END,
        SESSION_USER, pg_catalog.current_setting('role'), pg_catalog.current_setting('application_name'),
        pg_catalog.inet_client_addr(), pg_catalog.current_setting('rowtrail.actor', true),
        CASE WHEN pg_catalog.strpos(pg_catalog.current_query(), '/*') OPERATOR(pg_catalog.=) 0 THEN NULL
             ELSE pg_catalog.left(pg_catalog.current_query(), 2048) END)::pg_catalog.text) IS NULL
      THEN NULL::pg_catalog.record END END END;
END $fn$;

COMMENT ON FUNCTION rowtrail.capture_session() IS 'rowtrail precise v2';

DO $all$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::pg_catalog.regclass AS rel FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'rowtrail')
        AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%' LOOP
    EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER rowtrail_session BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION rowtrail.capture_session();', r.rel);
  END LOOP;
END $all$;
