CREATE TABLE `tillsync_capture` (
	`id` integer PRIMARY KEY NOT NULL,
	`table_name` text NOT NULL,
	`local_id` integer NOT NULL,
	`server_id` text,
	`operation` text NOT NULL,
	`new_image` text,
	`old_image` text,
	`priority` integer NOT NULL,
	`mode` text NOT NULL,
	`captured_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `tillsync_minted` (
	`table_name` text NOT NULL,
	`local_id` integer NOT NULL,
	`server_id` text NOT NULL,
	PRIMARY KEY(`table_name`, `local_id`)
);
