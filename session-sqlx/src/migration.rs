//! The migration templates both stores share the shape of.

use crate::name::Ident;

/// One migration file. Every statement in it is idempotent; a migration
/// that adds a column runs only while the table lacks that column (the
/// check runs in the migration's transaction, under its lock), which is
/// how SQLite, without `ADD COLUMN IF NOT EXISTS`, stays idempotent, and
/// how PostgreSQL avoids an `ACCESS EXCLUSIVE` lock on every start.
#[derive(Debug)]
pub(crate) struct Migration {
    /// The SQL template: holes `{table}`, `{expires_index}`, `{user_index}`
    /// and (MySQL) `{login_locks}`, the table beside `{table}` whose name
    /// ends in `_login_locks`.
    pub(crate) sql: &'static str,
    /// The column the migration adds, if it adds one.
    pub(crate) adds_column: Option<&'static str>,
}

impl Migration {
    /// The SQL for table `table` (`name` quoted, schema-qualified on
    /// PostgreSQL) named `name`, index names in `quote`s.
    pub(crate) fn render(&self, table: &str, name: &Ident, quote: char) -> String {
        self.sql
            .replace("{table}", table)
            .replace(
                "{expires_index}",
                &name.quoted_with("_expires_at_idx", quote),
            )
            .replace("{user_index}", &name.quoted_with("_user_id_idx", quote))
            .replace("{login_locks}", &beside(table, name, "_login_locks", quote))
    }
}

/// The whole script of `migrations` for table `table` named `name` (as
/// [`Migration::render`]), after `prelude` (a statement without its `;`,
/// or empty): what `migration_sql` returns.
pub(crate) fn script(
    prelude: &str, migrations: &[Migration], table: &str, name: &Ident, quote: char,
) -> String {
    let mut out = String::new();
    if !prelude.is_empty() {
        out.push_str(prelude);
        out.push_str(";\n\n");
    }
    let files: Vec<String> = migrations
        .iter()
        .map(|m| m.render(table, name, quote))
        .collect();
    out.push_str(&files.join("\n"));
    out
}

/// The table named `name` + `suffix`, qualified as `table` (the quoted,
/// possibly qualified, name of `name`) is.
pub(crate) fn beside(table: &str, name: &Ident, suffix: &str, quote: char) -> String {
    let own = name.quoted_with("", quote);
    let prefix = table.strip_suffix(own.as_str()).unwrap_or_default();
    format!("{prefix}{}", name.quoted_with(suffix, quote))
}

/// The migrations of one dialect (`"postgres"`, `"sqlite"` or `"mysql"`, the folder
/// under `migrations/`), in order: the same files for both.
macro_rules! migrations {
    ($dialect:literal $(, $extra:expr)*) => {
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
            $($extra,)*
        ]
    };
}
pub(crate) use migrations;
