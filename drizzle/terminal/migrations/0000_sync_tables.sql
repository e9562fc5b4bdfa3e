CREATE TABLE `tillsync_conflicts` (
	`id` text PRIMARY KEY NOT NULL,
	`table_name` text NOT NULL,
	`entity_type` text NOT NULL,
	`server_id` text NOT NULL,
	`strategy` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`base` text,
	`terminal` text,
	`central` text,
	`central_version` integer,
	`resolution` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`resolved_at` text
);
--> statement-breakpoint
CREATE INDEX `tillsync_conflicts_status_idx` ON `tillsync_conflicts` (`status`);--> statement-breakpoint
CREATE TABLE `tillsync_control` (
	`id` integer PRIMARY KEY NOT NULL,
	`applying` integer DEFAULT 0 NOT NULL,
	`mode` text DEFAULT 'ONLINE' NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tillsync_cursors` (
	`table_name` text PRIMARY KEY NOT NULL,
	`cursor` text,
	`last_pull_at` text,
	`last_push_at` text,
	`paused_reason` text
);
--> statement-breakpoint
CREATE TABLE `tillsync_history` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`trigger` text NOT NULL,
	`started_at` text NOT NULL,
	`finished_at` text,
	`pushed` integer DEFAULT 0 NOT NULL,
	`pulled` integer DEFAULT 0 NOT NULL,
	`conflicts` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`errors` text
);
--> statement-breakpoint
CREATE TABLE `tillsync_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tillsync_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`change_id` text NOT NULL,
	`table_name` text NOT NULL,
	`local_id` integer NOT NULL,
	`server_id` text NOT NULL,
	`operation` text NOT NULL,
	`new_image` text,
	`old_image` text,
	`priority` integer NOT NULL,
	`created_in_mode` text DEFAULT 'ONLINE' NOT NULL,
	`tx_group` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`next_attempt_at` integer,
	`sent_as` text,
	`base_version` integer,
	`result_version` integer,
	`conflict_id` text,
	`hlc` text,
	`created_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL,
	`synced_at` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tillsync_outbox_change_idx` ON `tillsync_outbox` (`change_id`);--> statement-breakpoint
CREATE INDEX `tillsync_outbox_queue_idx` ON `tillsync_outbox` (`status`,`priority`,`id`);--> statement-breakpoint
CREATE INDEX `tillsync_outbox_row_idx` ON `tillsync_outbox` (`table_name`,`server_id`,`status`);--> statement-breakpoint
CREATE TABLE `tillsync_row_state` (
	`table_name` text NOT NULL,
	`server_id` text NOT NULL,
	`version` integer NOT NULL,
	`base` text,
	PRIMARY KEY(`table_name`, `server_id`)
);
--> statement-breakpoint
CREATE TABLE `tillsync_unresolved` (
	`table_name` text NOT NULL,
	`local_id` integer NOT NULL,
	`column` text NOT NULL,
	`target_table` text NOT NULL,
	`target_server_id` text NOT NULL,
	PRIMARY KEY(`table_name`, `local_id`, `column`)
);
