//! Validation of the schema and table names spliced into SQL.

use crate::error::Error;

/// The longest schema name: PostgreSQL's identifier limit (63 bytes).
pub(crate) const MAX_SCHEMA: usize = 63;
/// The longest table name: 63 bytes minus the `_expires_at_idx` suffix of
/// the expiry index (the longest derived suffix; the user index's
/// `_user_id_idx` is shorter), so derived names are never truncated.
pub(crate) const MAX_TABLE: usize = 48;

const SCHEMA_RULE: &str = "1 to 63 of [a-z0-9_], not starting with a digit or `pg_`";
const TABLE_RULE: &str = "1 to 48 of [a-z0-9_], not starting with a digit";

/// A name that passed validation, double-quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ident(String);

impl Ident {
    /// A name known to be valid (a literal default).
    pub(crate) fn trusted(name: &'static str) -> Self {
        debug_assert!(plain(name, MAX_TABLE));
        Self(name.to_owned())
    }

    /// The quoted identifier, ready to splice into SQL.
    #[cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn quoted(&self) -> String {
        self.quoted_with("", '"')
    }

    /// The name with `suffix`, in `quote`s (`"` in standard SQL, `` ` `` on
    /// MySQL, whose default SQL mode reads `"` as a string quote).
    pub(crate) fn quoted_with(&self, suffix: &str, quote: char) -> String {
        format!("{quote}{}{suffix}{quote}", self.0)
    }

    /// The bare name (for binding as a value).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

fn plain(name: &str, max: usize) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && !b.first().is_some_and(u8::is_ascii_digit)
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Validates a PostgreSQL schema name.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn schema(name: &str) -> Result<Ident, Error> {
    let ok = plain(name, MAX_SCHEMA) && !name.starts_with("pg_");
    checked(name, ok, "schema", SCHEMA_RULE)
}

/// The longest MySQL database name (MySQL's identifier limit).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) const MAX_DATABASE: usize = 64;

const DATABASE_RULE: &str = "1 to 64 of [a-z0-9_], not starting with a digit";

/// Validates a MySQL database name.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn database(name: &str) -> Result<Ident, Error> {
    if plain(name, MAX_DATABASE) {
        Ok(Ident(name.to_owned()))
    } else {
        Err(Error::InvalidName {
            what: "database",
            name: name.to_owned(),
            rule: DATABASE_RULE,
        })
    }
}

/// Validates a table name.
pub(crate) fn table(name: &str) -> Result<Ident, Error> {
    checked(name, plain(name, MAX_TABLE), "table", TABLE_RULE)
}

/// `name` as an identifier when `ok`, else the error naming `what` and
/// its `rule`.
fn checked(name: &str, ok: bool, what: &'static str, rule: &'static str) -> Result<Ident, Error> {
    if ok {
        Ok(Ident(name.to_owned()))
    } else {
        Err(Error::InvalidName {
            what,
            name: name.to_owned(),
            rule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_lowercase_identifiers() {
        for ok in ["sessions", "_s", "a1_b2", &"s".repeat(48)] {
            assert_eq!(table(ok).unwrap().as_str(), ok);
            assert_eq!(schema(ok).unwrap().quoted(), format!("\"{ok}\""));
        }
        assert!(schema(&"s".repeat(63)).is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        let long49 = "t".repeat(49);
        let long64 = "s".repeat(64);
        for bad in [
            "",
            "1abc",
            "Sessions",
            "a-b",
            "a b",
            "a\"b",
            "s;drop table x",
            "é",
            "a.b",
            long49.as_str(),
        ] {
            assert!(table(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "pg_catalog", "9x", "x\"; --", long64.as_str()] {
            assert!(schema(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "9x", "a`b", "x`; --", &"d".repeat(65)] {
            assert!(database(bad).is_err(), "{bad:?}");
        }
        assert!(database(&"d".repeat(64)).is_ok());
    }

    #[test]
    fn derived_index_names_fit_postgres_limit() {
        let t = table(&"t".repeat(MAX_TABLE)).unwrap();
        assert!(t.quoted_with("_expires_at_idx", '"').len() - 2 <= 63);
        assert!(t.quoted_with("_user_id_idx", '"').len() - 2 <= 63);
        assert_eq!(t.quoted_with("_x", '`'), format!("`{}_x`", t.as_str()));
    }
}
