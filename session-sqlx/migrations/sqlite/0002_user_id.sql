-- session-sqlx, SQLite migration 2: the user index (Session::set_user,
-- "your devices", revoke, the per-user cap). A nullable user_id column and
-- a partial index on it: rows without a user cost the index nothing.
-- {table} and {user_index} are validated, double-quoted identifiers filled
-- in by the crate. SQLite has no ADD COLUMN IF NOT EXISTS: the crate runs
-- this file only when pragma_table_info shows no user_id column, checked
-- inside the same BEGIN IMMEDIATE transaction, so it runs exactly once per
-- table even when several instances start at once. Existing rows keep
-- user_id NULL (sessions created before the upgrade belong to no user).
ALTER TABLE {table} ADD COLUMN user_id TEXT;
CREATE INDEX IF NOT EXISTS {user_index} ON {table} (user_id) WHERE user_id IS NOT NULL;
