-- session-sqlx, MySQL / MariaDB migration 3: the login time of a session
-- written by UserIndex::admit (a login under a per-user cap), which orders the
-- sessions the cap revokes, oldest login first. A nullable column (Unix time
-- in milliseconds) and no index: admit reads it only among one user's rows,
-- found through the user_id index. {table} is a validated, backquoted
-- identifier filled in by the crate, which runs this file only while the
-- table has no login_at column (under the migration lock). Existing rows keep
-- login_at NULL: a session without a login time counts as the oldest.
ALTER TABLE {table} ADD COLUMN login_at BIGINT NULL;
