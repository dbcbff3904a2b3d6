-- session-sqlx, SQLite migration 1: the sessions table and its expiry index.
-- {table} and {expires_index} are validated, double-quoted identifiers filled
-- in by the crate; every statement is idempotent. expires_at is Unix time in
-- milliseconds.
CREATE TABLE IF NOT EXISTS {table} (
    id         TEXT    PRIMARY KEY NOT NULL,
    version    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    payload    BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS {expires_index} ON {table} (expires_at);
