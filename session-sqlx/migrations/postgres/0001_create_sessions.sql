-- session-sqlx, PostgreSQL migration 1: the sessions table and its expiry index.
-- {table} (schema-qualified) and {expires_index} are validated, double-quoted
-- identifiers filled in by the crate; every statement is idempotent.
-- Later migrations add columns (0002: a nullable, indexed user_id for the
-- user index).
CREATE TABLE IF NOT EXISTS {table} (
    id         TEXT        PRIMARY KEY,
    version    BIGINT      NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    payload    BYTEA       NOT NULL
);
CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at);
