/**
 * Preload bridge. It will expose one typed object built from the IPC contract in
 * src/shared (companion issue); until then it exposes nothing.
 */
export {};
