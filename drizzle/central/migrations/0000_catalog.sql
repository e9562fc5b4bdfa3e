CREATE TABLE "audit_logs" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text,
	"user_id" text,
	"action" text NOT NULL,
	"entity" text,
	"entity_ref" text,
	"details" jsonb,
	"occurred_at" timestamp with time zone,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "brands" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "categories" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"parent_id" text,
	"description" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"email" text,
	"phone" text,
	"loyalty_points" bigint,
	"total_spent" numeric,
	"visit_count" bigint,
	"notes" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "discounts" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text,
	"name" text NOT NULL,
	"kind" text,
	"value" numeric,
	"starts_at" timestamp with time zone,
	"ends_at" timestamp with time zone,
	"active" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "inventory_items" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"product_id" text NOT NULL,
	"variant_id" text,
	"master_stock_quantity" numeric,
	"reorder_level" numeric,
	"location" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "inventory_transactions" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"product_id" text NOT NULL,
	"variant_id" text,
	"order_id" text,
	"quantity_change" numeric NOT NULL,
	"reason" text,
	"note" text,
	"occurred_at" timestamp with time zone,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "order_items" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"order_id" text NOT NULL,
	"product_id" text,
	"variant_id" text,
	"description" text,
	"quantity" numeric NOT NULL,
	"unit_price" numeric,
	"discount" numeric,
	"tax" numeric,
	"line_total" numeric,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "orders" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"order_number" text NOT NULL,
	"customer_id" text,
	"user_id" text,
	"status" text NOT NULL,
	"subtotal" numeric,
	"tax_total" numeric,
	"discount_total" numeric,
	"total" numeric,
	"currency" text,
	"notes" text,
	"ordered_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"order_id" text NOT NULL,
	"method" text NOT NULL,
	"amount" numeric NOT NULL,
	"currency" text,
	"reference" text,
	"status" text,
	"paid_at" timestamp with time zone,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "product_variants" (
	"id" text PRIMARY KEY NOT NULL,
	"product_id" text NOT NULL,
	"sku" text NOT NULL,
	"barcode" text,
	"name" text NOT NULL,
	"price" numeric,
	"cost" numeric,
	"active" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "products" (
	"id" text PRIMARY KEY NOT NULL,
	"sku" text NOT NULL,
	"barcode" text,
	"name" text NOT NULL,
	"description" text,
	"category_id" text,
	"brand_id" text,
	"tax_id" text,
	"price" numeric NOT NULL,
	"cost" numeric,
	"unit" text,
	"active" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "purchase_order_items" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"purchase_order_id" text NOT NULL,
	"product_id" text,
	"quantity_ordered" numeric,
	"quantity_received" numeric,
	"unit_cost" numeric,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "purchase_orders" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"supplier_id" text,
	"po_number" text,
	"status" text,
	"ordered_at" timestamp with time zone,
	"expected_at" timestamp with time zone,
	"total" numeric,
	"notes" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "receipts" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"order_id" text,
	"receipt_number" text,
	"content" text,
	"printed_at" timestamp with time zone,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text,
	"key" text NOT NULL,
	"value" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "stores" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"code" text,
	"address" text,
	"timezone" text,
	"currency" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "suppliers" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"contact_name" text,
	"email" text,
	"phone" text,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "taxes" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"rate" numeric NOT NULL,
	"inclusive" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "terminals" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"name" text NOT NULL,
	"code" text,
	"active" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text,
	"username" text NOT NULL,
	"full_name" text,
	"role" text,
	"pin_hash" text,
	"active" boolean,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone,
	"sync_version" bigint DEFAULT 0 NOT NULL,
	"sync_hlc" text,
	"sync_origin" text,
	"sync_updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sync_admin" (
	"id" integer PRIMARY KEY NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_applied" (
	"change_id" text PRIMARY KEY NOT NULL,
	"terminal_id" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"status" text NOT NULL,
	"version" bigint,
	"result" jsonb,
	"applied_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_changes" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"txid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"store_id" text,
	"op" text NOT NULL,
	"version" bigint NOT NULL,
	"origin" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_conflicts" (
	"id" text PRIMARY KEY NOT NULL,
	"terminal_id" text NOT NULL,
	"store_id" text,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"change_id" text NOT NULL,
	"strategy" text NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"base" jsonb,
	"terminal" jsonb,
	"central" jsonb,
	"central_version" bigint,
	"resolution" text,
	"resolved_data" jsonb,
	"resolved_by" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "sync_terminals" (
	"id" text PRIMARY KEY NOT NULL,
	"store_id" text NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"disabled_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_heartbeat_at" timestamp with time zone,
	"reported_status" text,
	"app_version" text,
	"last_sync_at" timestamp with time zone,
	"outbox" jsonb
);
--> statement-breakpoint
CREATE TABLE "sync_triggers" (
	"id" text PRIMARY KEY NOT NULL,
	"batch_id" text NOT NULL,
	"terminal_id" text NOT NULL,
	"type" text NOT NULL,
	"reason" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"acked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "audit_logs_store_id_idx" ON "audit_logs" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "audit_logs_user_id_idx" ON "audit_logs" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "categories_parent_id_idx" ON "categories" USING btree ("parent_id");--> statement-breakpoint
CREATE INDEX "discounts_store_id_idx" ON "discounts" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "inventory_items_store_id_idx" ON "inventory_items" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "inventory_items_product_id_idx" ON "inventory_items" USING btree ("product_id");--> statement-breakpoint
CREATE INDEX "inventory_items_variant_id_idx" ON "inventory_items" USING btree ("variant_id");--> statement-breakpoint
CREATE INDEX "inventory_transactions_store_id_idx" ON "inventory_transactions" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "inventory_transactions_product_id_idx" ON "inventory_transactions" USING btree ("product_id");--> statement-breakpoint
CREATE INDEX "inventory_transactions_variant_id_idx" ON "inventory_transactions" USING btree ("variant_id");--> statement-breakpoint
CREATE INDEX "inventory_transactions_order_id_idx" ON "inventory_transactions" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "order_items_store_id_idx" ON "order_items" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "order_items_order_id_idx" ON "order_items" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "order_items_product_id_idx" ON "order_items" USING btree ("product_id");--> statement-breakpoint
CREATE INDEX "order_items_variant_id_idx" ON "order_items" USING btree ("variant_id");--> statement-breakpoint
CREATE INDEX "orders_store_id_idx" ON "orders" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "orders_customer_id_idx" ON "orders" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "orders_user_id_idx" ON "orders" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "payments_store_id_idx" ON "payments" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "payments_order_id_idx" ON "payments" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "product_variants_product_id_idx" ON "product_variants" USING btree ("product_id");--> statement-breakpoint
CREATE INDEX "products_category_id_idx" ON "products" USING btree ("category_id");--> statement-breakpoint
CREATE INDEX "products_brand_id_idx" ON "products" USING btree ("brand_id");--> statement-breakpoint
CREATE INDEX "products_tax_id_idx" ON "products" USING btree ("tax_id");--> statement-breakpoint
CREATE INDEX "purchase_order_items_store_id_idx" ON "purchase_order_items" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "purchase_order_items_purchase_order_id_idx" ON "purchase_order_items" USING btree ("purchase_order_id");--> statement-breakpoint
CREATE INDEX "purchase_order_items_product_id_idx" ON "purchase_order_items" USING btree ("product_id");--> statement-breakpoint
CREATE INDEX "purchase_orders_store_id_idx" ON "purchase_orders" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "purchase_orders_supplier_id_idx" ON "purchase_orders" USING btree ("supplier_id");--> statement-breakpoint
CREATE INDEX "receipts_store_id_idx" ON "receipts" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "receipts_order_id_idx" ON "receipts" USING btree ("order_id");--> statement-breakpoint
CREATE INDEX "settings_store_id_idx" ON "settings" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "terminals_store_id_idx" ON "terminals" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "users_store_id_idx" ON "users" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "sync_applied_terminal_idx" ON "sync_applied" USING btree ("terminal_id","entity_type");--> statement-breakpoint
CREATE INDEX "sync_changes_cursor_idx" ON "sync_changes" USING btree ("entity_type","txid","seq");--> statement-breakpoint
CREATE INDEX "sync_conflicts_terminal_idx" ON "sync_conflicts" USING btree ("terminal_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "sync_conflicts_open_idx" ON "sync_conflicts" USING btree ("entity_type","entity_id","terminal_id") WHERE status = 'open';--> statement-breakpoint
CREATE UNIQUE INDEX "sync_terminals_key_hash_idx" ON "sync_terminals" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "sync_terminals_store_idx" ON "sync_terminals" USING btree ("store_id");--> statement-breakpoint
CREATE INDEX "sync_triggers_terminal_idx" ON "sync_triggers" USING btree ("terminal_id","acked_at");--> statement-breakpoint
CREATE INDEX "sync_triggers_batch_idx" ON "sync_triggers" USING btree ("batch_id");