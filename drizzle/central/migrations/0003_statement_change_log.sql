-- Central's change log is written once per statement, from the statement's transition
-- tables, by a function generated per catalog table and attached at server start
-- (installCaptureTriggers in src/server/db/migrate.ts: tillsync_log_insert and
-- tillsync_log_update). The row-level trigger it replaces goes.
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
-- The function stays, as a no-op: an instance of the version before, restarting during
-- a rolling upgrade, attaches its row-level trigger to it again on start. It must be
-- able to start, and must not log a change twice; this version's next start drops
-- that trigger again.
CREATE OR REPLACE FUNCTION tillsync_log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
