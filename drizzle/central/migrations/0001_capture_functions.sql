-- Central capture: every write to a synced table, by the sync API or by anyone's SQL,
-- bumps the row's version and appends to the change log in the same transaction.
-- Triggers are attached per catalog table at server start (see src/server/db/migrate.ts).

-- A server-side hybrid logical clock value, in the format of src/shared/hlc.ts.
CREATE OR REPLACE FUNCTION tillsync_hlc_now() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT lpad(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text, 15, '0') || ':00000:central'
$$;
--> statement-breakpoint

-- BEFORE INSERT OR UPDATE: stamps the row (version, clock, writer). The writer's
-- identity comes from the transaction-local setting tillsync.origin (set by the sync
-- API); anything else is the back office: 'central'.
CREATE OR REPLACE FUNCTION tillsync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.sync_version := 1;
    IF NEW.sync_hlc IS NULL THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
  ELSE
    -- A write that changes nothing is not a change: no new version, nothing to pull.
    IF NEW IS NOT DISTINCT FROM OLD THEN RETURN NEW; END IF;
    NEW.sync_version := OLD.sync_version + 1;
    IF NEW.sync_hlc IS NOT DISTINCT FROM OLD.sync_hlc THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
  END IF;
  NEW.sync_origin := coalesce(nullif(current_setting('tillsync.origin', true), ''), 'central');
  NEW.sync_updated_at := now();
  RETURN NEW;
END
$$;
--> statement-breakpoint

-- AFTER INSERT OR UPDATE: appends the change. An AFTER trigger, because an
-- INSERT ... ON CONFLICT DO UPDATE fires the BEFORE INSERT trigger for a row that
-- is then updated instead; only the AFTER trigger of what really happened fires.
-- TG_ARGV[0]: entity type; TG_ARGV[1]: store column ('' if global).
CREATE OR REPLACE FUNCTION tillsync_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text;
  new_store text;
  old_store text;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.sync_version = OLD.sync_version THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    change_op := CASE WHEN NEW.sync_deleted_at IS NULL THEN 'CREATE' ELSE 'DELETE' END;
  ELSE
    change_op := CASE
      WHEN NEW.sync_deleted_at IS NOT NULL THEN 'DELETE'
      WHEN OLD.sync_deleted_at IS NOT NULL THEN 'CREATE'
      ELSE 'UPDATE' END;
  END IF;
  IF TG_ARGV[1] <> '' THEN
    new_store := to_jsonb(NEW) ->> TG_ARGV[1];
    IF TG_OP = 'UPDATE' THEN old_store := to_jsonb(OLD) ->> TG_ARGV[1]; END IF;
  END IF;
  -- A row that moves to another store leaves the old one: its terminals pull a delete.
  IF old_store IS DISTINCT FROM new_store AND old_store IS NOT NULL THEN
    INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
    VALUES (TG_ARGV[0], NEW.id, old_store, 'DELETE', NEW.sync_version, NEW.sync_origin);
  END IF;
  INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
  VALUES (TG_ARGV[0], NEW.id, new_store, change_op, NEW.sync_version, NEW.sync_origin);
  RETURN NULL;
END
$$;
--> statement-breakpoint

-- BEFORE DELETE: deletes are soft at central. The row stays as a tombstone that
-- terminals pull; a purge (tillsync.purge = 'on') removes rows for real.
CREATE OR REPLACE FUNCTION tillsync_soft_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tillsync.purge', true) = 'on' THEN RETURN OLD; END IF;
  EXECUTE format('UPDATE %I.%I SET sync_deleted_at = now() WHERE id = $1 AND sync_deleted_at IS NULL',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME) USING OLD.id;
  RETURN NULL;
END
$$;
