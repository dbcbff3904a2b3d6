//! Prints the SQL `migrate()` runs, for a DBA or another migration tool:
//! `cargo xtask migration-sql --store postgres|sqlite|mysql [--schema S]
//! [--table T]` runs this example (`--schema` is the PostgreSQL schema or
//! the MySQL database; SQLite has none).

use std::process::ExitCode;

const USAGE: &str =
    "usage: migration_sql --store postgres|sqlite|mysql [--schema NAME] [--table NAME]";

fn main() -> ExitCode {
    let (mut store, mut schema, mut table) = (None, None, "sessions".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--store" => store = Some(value),
            "--schema" => schema = Some(value),
            "--table" => table = value,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match script(store.as_deref(), schema.as_deref(), &table) {
        Ok(sql) => {
            println!("{sql}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// The script of `store` (the crate's own `migration_sql`).
fn script(
    store: Option<&str>, schema: Option<&str>, table: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    match (store, schema) {
        #[cfg(feature = "postgres")]
        (Some("postgres"), schema) => Ok(session_sqlx::PostgresStore::migration_sql(
            schema.unwrap_or("public"),
            table,
        )?),
        #[cfg(feature = "sqlite")]
        (Some("sqlite"), None) => Ok(session_sqlx::SqliteStore::migration_sql(table)?),
        #[cfg(feature = "mysql")]
        (Some("mysql"), database) => Ok(session_sqlx::MySqlStore::migration_sql(database, table)?),
        (Some("sqlite"), Some(_)) => Err("SQLite has no schema".into()),
        (Some(other), _) => Err(format!("unknown or disabled store {other:?}").into()),
        (None, _) => Err("--store is required".into()),
    }
}
