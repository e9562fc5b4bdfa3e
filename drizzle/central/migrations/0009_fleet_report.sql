ALTER TABLE "sync_terminals" ADD COLUMN "schema_version" text;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "pending_total" integer;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "failed_total" integer;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "oldest_pending_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "unsynced_sales_count" integer;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "unsynced_sales_total" numeric;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "clock_skew_ms" integer;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "pull_cursors" jsonb;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "recent_runs" jsonb;