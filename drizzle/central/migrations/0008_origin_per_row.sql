-- Group commit (issue 17): one push transaction can carry the changes of several
-- terminals, so the writer's identity is per row rather than per transaction. When
-- the push sets tillsync.origin to the marker '*row*' (not a terminal id: those start
-- with a letter or digit), the stamp trigger takes each row's writer from the
-- sync_origin the push's upsert gives it. Any other writer is stamped as before: its
-- tillsync.origin, or 'central'. A write's own sync_origin never makes it a change.
CREATE OR REPLACE FUNCTION tillsync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  writer text := nullif(current_setting('tillsync.origin', true), '');
BEGIN
  IF writer = '*row*' THEN writer := NEW.sync_origin; END IF;
  IF TG_OP = 'INSERT' THEN
    NEW.sync_version := 1;
    IF NEW.sync_hlc IS NULL THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
  ELSE
    -- A write that changes nothing is not a change: no new version, nothing to pull.
    NEW.sync_origin := OLD.sync_origin;
    IF NEW IS NOT DISTINCT FROM OLD THEN RETURN NEW; END IF;
    IF OLD.sync_change_id IS NOT NULL THEN
      PERFORM tillsync_keep_answer(coalesce(TG_ARGV[0], TG_TABLE_NAME), OLD.id, OLD.sync_change_id, OLD.sync_change_hash,
                                   OLD.sync_origin, OLD.sync_version, OLD.sync_updated_at);
      IF NEW.sync_change_id IS NOT DISTINCT FROM OLD.sync_change_id THEN
        NEW.sync_change_id := NULL;
        NEW.sync_change_hash := NULL;
      END IF;
    END IF;
    NEW.sync_version := OLD.sync_version + 1;
    IF NEW.sync_hlc IS NOT DISTINCT FROM OLD.sync_hlc THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
  END IF;
  NEW.sync_origin := coalesce(writer, 'central');
  NEW.sync_updated_at := now();
  RETURN NEW;
END
$$;
