-- session-sqlx, MySQL / MariaDB migration 4: one lock row per user that has
-- logged in under a per-user cap. UserIndex::admit writes its user's row
-- first (INSERT ... ON DUPLICATE KEY UPDATE, an exclusive record lock held
-- until the admission commits), so logins of one user queue and logins of
-- different users never wait for each other: the MySQL stand-in for
-- PostgreSQL's pg_advisory_xact_lock, released with the transaction even
-- when the request is dropped. One small row per such user; never read.
-- {login_locks} is a validated, backquoted identifier filled in by the crate;
-- the statement is idempotent.
CREATE TABLE IF NOT EXISTS {login_locks} (
    user_id VARBINARY(255) NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
