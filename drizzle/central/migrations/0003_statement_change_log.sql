-- Central's change log is written once per statement, from the statement's transition
-- tables, by a function generated per catalog table and attached at server start
-- (installCaptureTriggers in src/server/db/migrate.ts: tillsync_log_insert and
-- tillsync_log_update). The row-level trigger it replaces, and its function, go.
DO $$
DECLARE
  t regclass;
BEGIN
  FOR t IN SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'tillsync_log' AND NOT tgisinternal LOOP
    EXECUTE format('DROP TRIGGER tillsync_log ON %s', t);
  END LOOP;
END
$$;
--> statement-breakpoint
DROP FUNCTION IF EXISTS tillsync_log();
