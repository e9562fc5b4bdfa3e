CREATE TABLE "sync_epoch" (
	"id" integer PRIMARY KEY DEFAULT 1 NOT NULL,
	"epoch" bigint DEFAULT 0 NOT NULL,
	"system_identifier" text,
	"timeline" integer,
	"restore_id" text,
	"reason" text,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_epoch_one_row" CHECK ("id" = 1)
);
--> statement-breakpoint
INSERT INTO "sync_epoch" ("id") VALUES (1) ON CONFLICT DO NOTHING;
