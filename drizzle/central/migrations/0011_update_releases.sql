CREATE TABLE "sync_release_chunks" (
	"upload_id" text NOT NULL,
	"seq" integer NOT NULL,
	"version" text NOT NULL,
	"name" text NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_release_chunks_upload_id_seq_pk" PRIMARY KEY("upload_id","seq")
);
--> statement-breakpoint
CREATE TABLE "sync_release_files" (
	"version" text NOT NULL,
	"name" text NOT NULL,
	"upload_id" text NOT NULL,
	"size" bigint NOT NULL,
	"sha512" text NOT NULL,
	"content" text,
	"uploaded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_release_files_version_name_pk" PRIMARY KEY("version","name")
);
--> statement-breakpoint
CREATE TABLE "sync_releases" (
	"version" text PRIMARY KEY NOT NULL,
	"notes" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "sync_update_rollout" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" text,
	"previous" text,
	"percentage" integer DEFAULT 0 NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"rolled_back_from" text,
	"stores" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "sync_release_chunks_file_idx" ON "sync_release_chunks" USING btree ("version","name");