CREATE TABLE `tillsync_resync` (
	`table_name` text NOT NULL,
	`server_id` text NOT NULL,
	`version` integer NOT NULL,
	PRIMARY KEY(`table_name`, `server_id`)
);
--> statement-breakpoint
ALTER TABLE `tillsync_cursors` ADD `resync_since` text;