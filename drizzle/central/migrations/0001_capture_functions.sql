-- Central capture: every write to a synced table, by the sync API or by anyone's SQL,
-- bumps the row's version and appends to the change log in the same transaction.
-- Triggers are attached per catalog table at server start (see src/server/db/capture.ts).

-- A server-side hybrid logical clock value, in the format of src/shared/hlc.ts.
CREATE OR REPLACE FUNCTION tillsync_hlc_now() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT lpad(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint::text, 15, '0') || ':00000:central'
$$;
--> statement-breakpoint

-- BEFORE INSERT OR UPDATE. TG_ARGV[0]: entity type; TG_ARGV[1]: store column ('' if global).
-- The writer's identity comes from the transaction-local setting tillsync.origin
-- (set by the sync API); anything else is the back office: 'central'.
CREATE OR REPLACE FUNCTION tillsync_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  change_op text;
  store text;
  writer text := coalesce(nullif(current_setting('tillsync.origin', true), ''), 'central');
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.sync_version := 1;
    IF NEW.sync_hlc IS NULL THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
    change_op := CASE WHEN NEW.sync_deleted_at IS NULL THEN 'CREATE' ELSE 'DELETE' END;
  ELSE
    -- A write that changes nothing is not a change: no new version, nothing to pull.
    IF NEW IS NOT DISTINCT FROM OLD THEN RETURN NEW; END IF;
    NEW.sync_version := OLD.sync_version + 1;
    IF NEW.sync_hlc IS NOT DISTINCT FROM OLD.sync_hlc THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
    change_op := CASE
      WHEN NEW.sync_deleted_at IS NOT NULL THEN 'DELETE'
      WHEN OLD.sync_deleted_at IS NOT NULL THEN 'CREATE'
      ELSE 'UPDATE' END;
  END IF;
  NEW.sync_origin := writer;
  NEW.sync_updated_at := now();
  IF TG_ARGV[1] <> '' THEN store := to_jsonb(NEW) ->> TG_ARGV[1]; END IF;
  INSERT INTO sync_changes (entity_type, entity_id, store_id, op, version, origin)
  VALUES (TG_ARGV[0], NEW.id, store, change_op, NEW.sync_version, writer);
  RETURN NEW;
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
