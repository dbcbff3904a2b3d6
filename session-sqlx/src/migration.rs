//! The migration templates both stores share the shape of.

use crate::name::Ident;

/// One migration file. Every statement in it is idempotent; a migration
/// that adds a column runs only while the table lacks that column (the
/// check runs in the migration's transaction, under its lock), which is
/// how SQLite, without `ADD COLUMN IF NOT EXISTS`, stays idempotent, and
/// how PostgreSQL avoids an `ACCESS EXCLUSIVE` lock on every start.
#[derive(Debug)]
pub(crate) struct Migration {
    /// The SQL template: holes `{table}`, `{expires_index}`, `{user_index}`.
    pub(crate) sql: &'static str,
    /// The column the migration adds, if it adds one.
    pub(crate) adds_column: Option<&'static str>,
}

impl Migration {
    /// The SQL for table `table` (`name` quoted, schema-qualified on
    /// PostgreSQL) named `name`.
    pub(crate) fn render(&self, table: &str, name: &Ident) -> String {
        self.sql
            .replace("{table}", table)
            .replace("{expires_index}", &name.expires_index())
            .replace("{user_index}", &name.user_index())
    }
}

/// The migrations of one dialect (`"postgres"` or `"sqlite"`, the folder
/// under `migrations/`), in order: the same files for both.
macro_rules! migrations {
    ($dialect:literal) => {
        &[
            $crate::migration::Migration {
                sql: include_str!(concat!(
                    "../migrations/",
                    $dialect,
                    "/0001_create_sessions.sql"
                )),
                adds_column: None,
            },
            $crate::migration::Migration {
                sql: include_str!(concat!("../migrations/", $dialect, "/0002_user_id.sql")),
                adds_column: Some("user_id"),
            },
            $crate::migration::Migration {
                sql: include_str!(concat!("../migrations/", $dialect, "/0003_login_at.sql")),
                adds_column: Some("login_at"),
            },
        ]
    };
}
pub(crate) use migrations;
