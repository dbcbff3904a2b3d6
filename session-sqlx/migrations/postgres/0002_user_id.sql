-- session-sqlx, PostgreSQL migration 2: the user index (Session::set_user,
-- "your devices", revoke, the per-user cap). A nullable user_id column and
-- a partial index on it: rows without a user cost the index nothing.
-- {table} (schema-qualified) and {user_index} are validated, double-quoted
-- identifiers filled in by the crate; every statement is idempotent.
-- The crate runs this file only while the table has no user_id column
-- (checked under the same advisory lock, in the same transaction), so a
-- normal start takes no ACCESS EXCLUSIVE lock on the table. Upgrading a
-- table of the previous version builds the index once; existing rows keep
-- user_id NULL (sessions created before the upgrade belong to no user).
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS user_id TEXT;
CREATE INDEX IF NOT EXISTS {user_index} ON {table} (user_id) WHERE user_id IS NOT NULL;
