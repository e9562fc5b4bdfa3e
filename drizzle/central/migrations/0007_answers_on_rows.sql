CREATE TABLE "sync_accepted_counts" (
	"terminal_id" text NOT NULL,
	"entity_type" text NOT NULL,
	"accepted" bigint NOT NULL,
	CONSTRAINT "sync_accepted_counts_terminal_id_entity_type_pk" PRIMARY KEY("terminal_id","entity_type")
);
--> statement-breakpoint
ALTER TABLE "audit_logs" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "audit_logs" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "brands" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "brands" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "categories" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "categories" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "discounts" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "discounts" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "inventory_items" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "inventory_items" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "inventory_transactions" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "inventory_transactions" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "order_items" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "order_items" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "orders" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "payments" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "product_variants" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "product_variants" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "products" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "purchase_order_items" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "purchase_order_items" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "purchase_orders" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "purchase_orders" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "receipts" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "receipts" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "settings" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "stores" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "suppliers" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "suppliers" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "taxes" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "taxes" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "terminals" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "terminals" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "sync_change_id" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "sync_change_hash" text;--> statement-breakpoint
-- The status endpoint's counts so far: every answer kept, as it counted them until now.
INSERT INTO sync_accepted_counts (terminal_id, entity_type, accepted)
SELECT terminal_id, entity_type, count(*) FROM sync_applied
WHERE status <> 'pending' AND (result ->> 'resolution') IS DISTINCT FROM 'PARKED'
GROUP BY terminal_id, entity_type;
--> statement-breakpoint
-- A plain `applied` answer lives on its row (sync_change_id, sync_change_hash) while the
-- row still holds that change. When the row is written again, or removed by the purge,
-- the answer moves into sync_applied, as the push would have written it then: a replay
-- of the change still finds it, and is answered as a duplicate.
-- $1 entity type, $2 row id, $3 change id, $4 content hash, $5 writer, $6 version, $7 when.
-- An id that already has an answer there was used for another row too: this answer
-- cannot be kept. It then counts as one the purge removed: the writer's
-- answers_purged_through passes it, so a later replay is judged by version
-- (push-decide's maybeReplay) and never applied again.
CREATE OR REPLACE FUNCTION tillsync_keep_answer(text, text, text, text, text, bigint, timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO sync_applied (change_id, terminal_id, entity_type, entity_id, status, version, result, content_hash, applied_at)
  VALUES ($3, coalesce($5, 'central'), $1, $2, 'applied', $6,
          jsonb_build_object('changeId', $3, 'entityType', $1, 'entityId', $2, 'status', 'applied', 'version', $6), $4, $7)
  ON CONFLICT (change_id) DO NOTHING;
  IF NOT FOUND THEN
    UPDATE sync_terminals SET answers_purged_through = greatest(coalesce(answers_purged_through, $7), $7) WHERE id = $5;
  END IF;
END
$$;
--> statement-breakpoint
-- BEFORE INSERT OR UPDATE: stamps the row (version, clock, writer), as in 0001; an
-- update also moves the answer the row holds into sync_applied, and a write that does
-- not name a new change (anyone's SQL, a supervisor's decision) leaves none on it.
-- TG_ARGV[0]: the entity type (an instance of an earlier version attaches the trigger
-- without it: the table's name stands in).
CREATE OR REPLACE FUNCTION tillsync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.sync_version := 1;
    IF NEW.sync_hlc IS NULL THEN NEW.sync_hlc := tillsync_hlc_now(); END IF;
  ELSE
    -- A write that changes nothing is not a change: no new version, nothing to pull.
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
  NEW.sync_origin := coalesce(nullif(current_setting('tillsync.origin', true), ''), 'central');
  NEW.sync_updated_at := now();
  RETURN NEW;
END
$$;
--> statement-breakpoint
-- BEFORE DELETE: deletes are soft at central (0001); the purge's real delete
-- (tillsync.purge = 'on') keeps the answer the row holds.
CREATE OR REPLACE FUNCTION tillsync_soft_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tillsync.purge', true) = 'on' THEN
    IF OLD.sync_change_id IS NOT NULL THEN
      PERFORM tillsync_keep_answer(coalesce(TG_ARGV[0], TG_TABLE_NAME), OLD.id, OLD.sync_change_id, OLD.sync_change_hash,
                                   OLD.sync_origin, OLD.sync_version, OLD.sync_updated_at);
    END IF;
    RETURN OLD;
  END IF;
  EXECUTE format('UPDATE %I.%I SET sync_deleted_at = now() WHERE id = $1 AND sync_deleted_at IS NULL',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME) USING OLD.id;
  RETURN NULL;
END
$$;
