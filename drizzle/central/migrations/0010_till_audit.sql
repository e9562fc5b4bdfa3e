ALTER TABLE "sync_terminals" ADD COLUMN "last_audit" jsonb;--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "last_audit_at" timestamp with time zone;