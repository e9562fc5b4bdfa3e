CREATE TABLE "sync_pull_positions" (
	"terminal_id" text NOT NULL,
	"entity_type" text NOT NULL,
	"txid" "xid8" NOT NULL,
	"seq" bigint NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_pull_positions_terminal_id_entity_type_pk" PRIMARY KEY("terminal_id","entity_type")
);
--> statement-breakpoint
CREATE TABLE "sync_purge_horizons" (
	"entity_type" text PRIMARY KEY NOT NULL,
	"txid" "xid8" NOT NULL,
	"seq" bigint NOT NULL,
	"changed_at" timestamp with time zone NOT NULL,
	"purged_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "sync_terminals" ADD COLUMN "answers_purged_through" timestamp with time zone;