-- session-sqlx, MySQL / MariaDB migration 1: the sessions table and its expiry
-- index. {table} (database-qualified when a database is set) and
-- {expires_index} are validated, backquoted identifiers filled in by the
-- crate; the statement is idempotent. MySQL 8 has no CREATE INDEX IF NOT
-- EXISTS, so the index is part of the CREATE TABLE. id is VARBINARY: keys
-- compare byte for byte (base64url is case-sensitive, and no collation
-- applies). expires_at is Unix time in milliseconds (BIGINT: TIMESTAMP ends
-- in 2038).
CREATE TABLE IF NOT EXISTS {table} (
    id         VARBINARY(64) NOT NULL PRIMARY KEY,
    version    BIGINT        NOT NULL,
    expires_at BIGINT        NOT NULL,
    payload    LONGBLOB      NOT NULL,
    INDEX {expires_index} (expires_at)
) ENGINE = InnoDB;
