CREATE TABLE `audit_logs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`user_id` integer,
	`action` text,
	`entity` text,
	`entity_ref` text,
	`details` text,
	`occurred_at` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `audit_logs_server_id_unique` ON `audit_logs` (`server_id`);--> statement-breakpoint
CREATE TABLE `brands` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`description` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `brands_server_id_unique` ON `brands` (`server_id`);--> statement-breakpoint
CREATE TABLE `categories` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`parent_id` integer,
	`description` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `categories_server_id_unique` ON `categories` (`server_id`);--> statement-breakpoint
CREATE TABLE `customers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`email` text,
	`phone` text,
	`loyalty_points` integer,
	`total_spent` real,
	`visit_count` integer,
	`notes` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `customers_server_id_unique` ON `customers` (`server_id`);--> statement-breakpoint
CREATE TABLE `discounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`name` text,
	`kind` text,
	`value` real,
	`starts_at` text,
	`ends_at` text,
	`active` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `discounts_server_id_unique` ON `discounts` (`server_id`);--> statement-breakpoint
CREATE TABLE `inventory_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`product_id` integer,
	`variant_id` integer,
	`stock_quantity` real,
	`reorder_level` real,
	`location` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inventory_items_server_id_unique` ON `inventory_items` (`server_id`);--> statement-breakpoint
CREATE TABLE `inventory_transactions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`product_id` integer,
	`variant_id` integer,
	`order_id` integer,
	`quantity_change` real,
	`reason` text,
	`note` text,
	`occurred_at` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inventory_transactions_server_id_unique` ON `inventory_transactions` (`server_id`);--> statement-breakpoint
CREATE TABLE `order_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`order_id` integer,
	`product_id` integer,
	`variant_id` integer,
	`description` text,
	`quantity` real,
	`unit_price` real,
	`discount` real,
	`tax` real,
	`line_total` real,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `order_items_server_id_unique` ON `order_items` (`server_id`);--> statement-breakpoint
CREATE TABLE `orders` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`order_number` text,
	`customer_id` integer,
	`user_id` integer,
	`status` text,
	`subtotal` real,
	`tax_total` real,
	`discount_total` real,
	`total` real,
	`currency` text,
	`notes` text,
	`ordered_at` text,
	`completed_at` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orders_server_id_unique` ON `orders` (`server_id`);--> statement-breakpoint
CREATE TABLE `payments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`order_id` integer,
	`method` text,
	`amount` real,
	`currency` text,
	`reference` text,
	`status` text,
	`paid_at` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payments_server_id_unique` ON `payments` (`server_id`);--> statement-breakpoint
CREATE TABLE `product_variants` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`product_id` integer,
	`sku` text,
	`barcode` text,
	`name` text,
	`price` real,
	`cost` real,
	`active` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `product_variants_server_id_unique` ON `product_variants` (`server_id`);--> statement-breakpoint
CREATE TABLE `products` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`sku` text,
	`barcode` text,
	`name` text,
	`description` text,
	`category_id` integer,
	`brand_id` integer,
	`tax_id` integer,
	`price` real,
	`cost` real,
	`unit` text,
	`active` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `products_server_id_unique` ON `products` (`server_id`);--> statement-breakpoint
CREATE TABLE `purchase_order_items` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`purchase_order_id` integer,
	`product_id` integer,
	`quantity_ordered` real,
	`quantity_received` real,
	`unit_cost` real,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `purchase_order_items_server_id_unique` ON `purchase_order_items` (`server_id`);--> statement-breakpoint
CREATE TABLE `purchase_orders` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`supplier_id` integer,
	`po_number` text,
	`status` text,
	`ordered_at` text,
	`expected_at` text,
	`total` real,
	`notes` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `purchase_orders_server_id_unique` ON `purchase_orders` (`server_id`);--> statement-breakpoint
CREATE TABLE `receipts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`order_id` integer,
	`receipt_number` text,
	`content` text,
	`printed_at` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `receipts_server_id_unique` ON `receipts` (`server_id`);--> statement-breakpoint
CREATE TABLE `settings` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`key` text,
	`value` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `settings_server_id_unique` ON `settings` (`server_id`);--> statement-breakpoint
CREATE TABLE `stores` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`code` text,
	`address` text,
	`timezone` text,
	`currency` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `stores_server_id_unique` ON `stores` (`server_id`);--> statement-breakpoint
CREATE TABLE `suppliers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`contact_name` text,
	`email` text,
	`phone` text,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `suppliers_server_id_unique` ON `suppliers` (`server_id`);--> statement-breakpoint
CREATE TABLE `taxes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`name` text,
	`rate` real,
	`inclusive` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `taxes_server_id_unique` ON `taxes` (`server_id`);--> statement-breakpoint
CREATE TABLE `terminals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`name` text,
	`code` text,
	`active` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `terminals_server_id_unique` ON `terminals` (`server_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`server_id` text,
	`store_id` integer,
	`username` text,
	`full_name` text,
	`role` text,
	`pin_hash` text,
	`active` integer,
	`created_at` text,
	`updated_at` text,
	`sync_status` text,
	`sync_operation` text,
	`last_sync_at` text,
	`terminal_id` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_server_id_unique` ON `users` (`server_id`);