//! What both SQL stores share: the verdict of a compare-and-swap (and what
//! it means to each caller), and the statements whose Rust side is the same
//! in both dialects (macros: the dialects differ in the types they bind and
//! decode, the time of a row above all).

use std::future::Future;

use session_core::{Record, Retired, Saved, StoreError, StoreKey, Touched, Version};
use time::OffsetDateTime;

use crate::admit::Written;
use crate::error::store_error;

/// The verdict of a compare-and-swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cas {
    /// Written.
    Done,
    /// The live row has another version: nothing written.
    MovedOn,
    /// No live row: nothing written.
    Gone,
}

impl Cas {
    /// The verdict as `save`'s outcome.
    pub(crate) fn saved(self) -> Saved {
        match self {
            Cas::Done => Saved::Ok,
            Cas::MovedOn => Saved::Conflict,
            Cas::Gone => Saved::Gone,
        }
    }

    /// The verdict as `touch`'s outcome.
    pub(crate) fn touched(self) -> Touched {
        match self {
            Cas::Done => Touched::Ok,
            Cas::MovedOn => Touched::MovedOn,
            Cas::Gone => Touched::Gone,
        }
    }

    /// The verdict as `retire`'s outcome.
    pub(crate) fn retired(self) -> Retired {
        match self {
            Cas::Done => Retired::Ok,
            Cas::MovedOn => Retired::MovedOn,
            Cas::Gone => Retired::Gone,
        }
    }

    /// The verdict as the outcome of an admission's write from a loaded
    /// session.
    pub(crate) fn written(self) -> Written {
        match self {
            Cas::Done => Written::Ok,
            Cas::MovedOn => Written::Conflict,
            Cas::Gone => Written::Gone,
        }
    }
}

/// A compare-and-swap on the version the request loaded (SQLite, MySQL:
/// one `UPDATE` or `DELETE`, asked why only when it matched nothing).
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) enum CasOp<'a> {
    /// `save`: replace the record.
    Save(&'a Record, Version),
    /// `touch`: move the expiry.
    Touch(&'a StoreKey, Version, OffsetDateTime),
    /// `retire`: delete.
    Retire(&'a StoreKey, Version),
    /// `admit`'s save: replace the record, with its login time.
    Login(&'a Record, Version, OffsetDateTime),
}

#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
impl CasOp<'_> {
    /// The key the operation compares.
    pub(crate) fn key(&self) -> &StoreKey {
        match self {
            CasOp::Save(record, _) | CasOp::Login(record, ..) => &record.key,
            CasOp::Touch(key, ..) | CasOp::Retire(key, _) => key,
        }
    }

    /// The version it expects.
    pub(crate) fn expected(&self) -> Version {
        match *self {
            CasOp::Save(_, v)
            | CasOp::Touch(_, v, _)
            | CasOp::Retire(_, v)
            | CasOp::Login(_, v, _) => v,
        }
    }
}

/// `create`'s outcome from the rows its insert-if-absent wrote.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn created(rows: u64) -> session_core::Created {
    if rows == 1 {
        session_core::Created::Ok
    } else {
        session_core::Created::Collision
    }
}

/// Unix time in milliseconds, the `expires_at` and `login_at` columns of
/// SQLite and MySQL (saturating: no instant the core produces is near
/// either end).
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn to_millis(t: time::OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// A stored Unix time in milliseconds as an instant.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) fn from_millis(ms: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Malformed("expires_at out of range"))
}

/// Runs `op` once: the `retry` of a store whose statements need no retry.
#[cfg(feature = "sqlite")]
pub(crate) async fn once<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    op().await
}

/// Rows deleted per statement by `Store::delete_expired`.
pub(crate) const EXPIRED_BATCH: i64 = 1000;

/// Runs `batch` (one statement deleting at most [`EXPIRED_BATCH`] expired
/// rows, returning how many it deleted) until a batch comes back short;
/// returns the total.
pub(crate) async fn delete_expired_in_batches<F, Fut>(mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, sqlx::Error>>,
{
    let mut total = 0;
    loop {
        let n = batch().await.map_err(store_error)?;
        total += n;
        if n < EXPIRED_BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Applies the migrations in the open transaction `tx`, then commits it. A
/// migration that adds a column runs only while `has_column` (the dialect's
/// `SELECT EXISTS`, bound to `table_arg` and the column) says the table
/// lacks it. Index names are quoted with `quote`.
macro_rules! apply_migrations {
    ($tx:ident, $migrations:expr, $has_column:expr, $table_arg:expr, $table:expr, $name:expr, $quote:expr) => {{
        for m in $migrations {
            if let Some(column) = m.adds_column {
                let has: bool = ::sqlx::query_scalar($has_column)
                    .bind($table_arg)
                    .bind(column)
                    .fetch_one(&mut *$tx)
                    .await?;
                if has {
                    continue;
                }
            }
            let sql = m.render($table, $name, $quote);
            ::sqlx::Executor::execute(&mut *$tx, ::sqlx::raw_sql(&sql)).await?;
        }
        $tx.commit().await?;
    }};
}

/// `Store::load` of an SQL store (`store.sql.load` at `now`): the record,
/// its expiry decoded by `expires` from the dialect's column type.
macro_rules! load_record {
    ($store:expr, $key:expr, $now:expr, $expires:expr) => {{
        let row = ::sqlx::query(&$store.sql.load)
            .bind($key.as_str())
            .bind($now)
            .fetch_optional(&$store.pool)
            .await
            .map_err($crate::error::store_error)?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = ::sqlx::Row::try_get(&row, 0).map_err($crate::error::store_error)?;
        Ok(Some(::session_core::Record {
            key: $key.to_owned(),
            version: $crate::error::version_from_db(version)?,
            expires_at: $expires(
                ::sqlx::Row::try_get(&row, 1).map_err($crate::error::store_error)?,
            )?,
            payload: ::sqlx::Row::try_get(&row, 2).map_err($crate::error::store_error)?,
            user: ::sqlx::Row::try_get(&row, 3).map_err($crate::error::store_error)?,
        }))
    }};
}

/// `UserIndex::user_records` of an SQL store (`store.sql.user_records` at
/// `now`), expiries decoded by `expires` as in [`load_record`].
macro_rules! user_records {
    ($store:expr, $user:expr, $now:expr, $expires:expr) => {{
        let rows = ::sqlx::query(&$store.sql.user_records)
            .bind($user)
            .bind($now)
            .fetch_all(&$store.pool)
            .await
            .map_err($crate::error::store_error)?;
        rows.iter()
            .map(|row| {
                let key: &str = ::sqlx::Row::try_get(row, 0).map_err($crate::error::store_error)?;
                let version: i64 =
                    ::sqlx::Row::try_get(row, 1).map_err($crate::error::store_error)?;
                Ok(::session_core::Record {
                    key: $crate::error::key_from_db(key)?,
                    version: $crate::error::version_from_db(version)?,
                    expires_at: $expires(
                        ::sqlx::Row::try_get(row, 2).map_err($crate::error::store_error)?,
                    )?,
                    payload: ::sqlx::Row::try_get(row, 3).map_err($crate::error::store_error)?,
                    user: Some($user.to_owned()),
                })
            })
            .collect()
    }};
}

/// `AdmitTx::others` of an SQL store: the user's other live sessions at
/// `now`, oldest login first, read in the admission's transaction `tx`.
macro_rules! other_logins {
    ($sql:expr, $tx:expr, $user:expr, $now:expr, $except:expr) => {{
        let ids: Vec<String> = ::sqlx::query_scalar($sql)
            .bind($user)
            .bind($now)
            .bind($except.as_str())
            .fetch_all(&mut *$tx)
            .await
            .map_err($crate::error::store_error)?;
        ids.iter()
            .map(|id| $crate::error::key_from_db(id))
            .collect()
    }};
}

/// `Store::delete` of an SQL store.
macro_rules! delete_row {
    ($store:expr, $key:expr) => {{
        ::sqlx::query(&$store.sql.delete)
            .bind($key.as_str())
            .execute(&$store.pool)
            .await
            .map_err($crate::error::store_error)?;
        Ok(())
    }};
}

/// `Store::delete_expired` of an SQL store: batches of
/// `store.sql.delete_expired` at `now` until one comes back short.
macro_rules! sweep_expired {
    ($store:expr, $now:expr) => {
        $crate::common::delete_expired_in_batches(|| async {
            let done = ::sqlx::query(&$store.sql.delete_expired)
                .bind($now)
                .bind($crate::common::EXPIRED_BATCH)
                .execute(&$store.pool)
                .await?;
            Ok(done.rows_affected())
        })
        .await
    };
}

/// The [`Store`](session_core::Store) impl of SQLite and MySQL: `load`,
/// `create` (the store's `create_query`, its outcome read by `created`,
/// run through `$retry`), then `save`, `touch` and `retire` through
/// the store's `cas` (a [`CasOp`]), `delete` and the batched
/// `delete_expired` at `now_ms`, and the user index and admin calls of the
/// store itself.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! cas_store {
    ($store:ty, retry: $retry:path) => {
        #[::async_trait::async_trait]
        impl Store for $store {
            async fn load(&self, key: &StoreKey) -> Result<Option<Record>, StoreError> {
                $crate::common::load_record!(self, key, self.now_ms(), $crate::common::from_millis)
            }

            async fn create(&self, record: &Record) -> Result<Created, StoreError> {
                $retry(|| async {
                    let done = self
                        .create_query(record, None, self.now_ms())?
                        .execute(&self.pool)
                        .await
                        .map_err($crate::error::store_error)?;
                    Ok(created(&done))
                })
                .await
            }

            async fn save(&self, record: &Record, expected: Version) -> Result<Saved, StoreError> {
                let op = $crate::common::CasOp::Save(record, expected);
                Ok(self.cas(op).await?.saved())
            }

            async fn touch(
                &self, key: &StoreKey, expected: Version, expires_at: OffsetDateTime,
            ) -> Result<Touched, StoreError> {
                let op = $crate::common::CasOp::Touch(key, expected, expires_at);
                Ok(self.cas(op).await?.touched())
            }

            async fn retire(
                &self, key: &StoreKey, expected: Version,
            ) -> Result<Retired, StoreError> {
                let op = $crate::common::CasOp::Retire(key, expected);
                Ok(self.cas(op).await?.retired())
            }

            async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
                $crate::common::delete_row!(self, key)
            }

            /// Deletes expired rows in batches of 1000 (one short write
            /// transaction each, so other writers get in between) until a batch
            /// comes back short.
            async fn delete_expired(&self) -> Result<u64, StoreError> {
                let now = self.now_ms();
                $crate::common::sweep_expired!(self, now)
            }

            fn user_index(&self) -> Option<&dyn UserIndex> {
                Some(self)
            }

            fn admin(&self) -> Option<&dyn StoreAdmin> {
                Some(self)
            }
        }
    };
}

/// The compare-and-swap of SQLite and MySQL, as methods of the store
/// (which has `cas_query(op, now)`, the versioned statement of a
/// [`CasOp`], `now_ms` and `sql.version_of`, the live row's version):
/// `cas_once` runs the statement, which in the common case changes the
/// one row; when it changes none, `settle` takes the answer in a
/// transaction of its own (from `self.$begin()`, ended by `$commit`), so
/// it holds at one instant.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! cas_methods {
    ($conn:ty, begin: $begin:ident, commit: $commit:path) => {
        /// One compare-and-swap: the versioned statement and, when it
        /// changed no row, [`settle`](Self::settle) in a transaction.
        async fn cas_once(
            &self, op: $crate::common::CasOp<'_>,
        ) -> Result<$crate::common::Cas, StoreError> {
            let now = self.now_ms();
            let done = self
                .cas_query(op, now)?
                .execute(&self.pool)
                .await
                .map_err($crate::error::store_error)?;
            if done.rows_affected() == 1 {
                return Ok($crate::common::Cas::Done);
            }
            let mut tx = self.$begin().await?;
            let outcome = self.settle(&mut tx, op, now).await?;
            $commit(tx).await?;
            Ok(outcome)
        }

        /// In `tx`, after `op` changed no row: the verdict, by the live
        /// row's version (read under the transaction's lock), writing `op`
        /// again if that is the expected one after all.
        async fn settle(
            &self, tx: &mut $conn, op: $crate::common::CasOp<'_>, now: i64,
        ) -> Result<$crate::common::Cas, StoreError> {
            use $crate::common::Cas;
            let stored: Option<i64> = ::sqlx::query_scalar(&self.sql.version_of)
                .bind(op.key().as_str())
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err($crate::error::store_error)?;
            match stored {
                None => Ok(Cas::Gone),
                Some(v) if v != $crate::error::version_to_db(op.expected())? => Ok(Cas::MovedOn),
                Some(_) => {
                    let done = self
                        .cas_query(op, now)?
                        .execute(&mut *tx)
                        .await
                        .map_err($crate::error::store_error)?;
                    if done.rows_affected() == 1 {
                        Ok(Cas::Done)
                    } else {
                        Err(StoreError::Malformed(
                            "a locked row at the expected version was not written",
                        ))
                    }
                }
            }
        }
    };
}

/// The admission of SQLite and MySQL (see `UserIndex::admit` on each
/// store): `$admit`, a transaction `tx` on the store `$store` at `now`
/// (Unix ms), whose `write` runs the store's `create_query` (its outcome
/// read by `$created`) or `cas_query` (settled by `settle` when it changed
/// no row) and, only if it wrote, deletes each victim still listed under
/// the user (`sql.revoke`); `commit` ends it by `$commit`.
#[cfg(any(feature = "sqlite", feature = "mysql"))]
macro_rules! cas_admit {
    ($(#[$doc:meta])* $admit:ident($store:ty, $db:ty), created: $created:path, commit: $commit:path) => {
        $(#[$doc])*
        struct $admit<'a> {
            tx: ::sqlx::Transaction<'static, $db>,
            store: &'a $store,
            now: i64,
        }

        #[::async_trait::async_trait]
        impl $crate::admit::AdmitTx for $admit<'_> {
            async fn others(
                &mut self, user: &str, except: &StoreKey,
            ) -> Result<Vec<StoreKey>, StoreError> {
                $crate::common::other_logins!(
                    &self.store.sql.other_logins,
                    self.tx,
                    user,
                    self.now,
                    except
                )
            }

            async fn write(
                &mut self, record: &Record, expected: Option<Version>, login_at: OffsetDateTime,
                revoke: &[StoreKey],
            ) -> Result<$crate::admit::Written, StoreError> {
                use $crate::admit::Written;
                use $crate::error::store_error;
                let written = match expected {
                    None => {
                        let done = self
                            .store
                            .create_query(record, Some(login_at), self.now)?
                            .execute(&mut *self.tx)
                            .await
                            .map_err(store_error)?;
                        match $created(&done) {
                            Created::Ok => Written::Ok,
                            _ => Written::Collision,
                        }
                    }
                    Some(v) => {
                        let op = $crate::common::CasOp::Login(record, v, login_at);
                        let done = self
                            .store
                            .cas_query(op, self.now)?
                            .execute(&mut *self.tx)
                            .await
                            .map_err(store_error)?;
                        if done.rows_affected() == 1 {
                            Written::Ok
                        } else {
                            self.store
                                .settle(&mut self.tx, op, self.now)
                                .await?
                                .written()
                        }
                    }
                };
                if written == Written::Ok {
                    for key in revoke {
                        ::sqlx::query(&self.store.sql.revoke)
                            .bind(key.as_str())
                            .bind(record.user.as_deref())
                            .execute(&mut *self.tx)
                            .await
                            .map_err(store_error)?;
                    }
                }
                Ok(written)
            }

            async fn commit(self) -> Result<(), StoreError> {
                $commit(self.tx).await
            }
        }
    };
}

/// `StoreAdmin::count` of an SQL store: one `SELECT count(*)` of the live
/// rows at `now`.
macro_rules! count_live {
    ($store:expr, $now:expr) => {{
        let n: i64 = ::sqlx::query_scalar(&$store.sql.count)
            .bind($now)
            .fetch_one(&$store.pool)
            .await
            .map_err($crate::error::store_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }};
}

/// Lets a store's `Queries` (whose field `common` holds the
/// [`Statements`](crate::Statements)
/// both stores run) be used as those statements.
macro_rules! statements_of {
    ($queries:ty) => {
        impl std::ops::Deref for $queries {
            type Target = $crate::Statements;

            fn deref(&self) -> &$crate::Statements {
                &self.common
            }
        }
    };
}

/// A store type (the doc comment given first): its pool (`$pool`), its
/// SQL (`Queries`), its clock, and any `$field`s (given their value in a
/// new store); `on_pool`, a store on a pool with the given SQL; and a
/// `Debug` that shows the type, the pool and the names it uses (the
/// methods `$name`), no more.
macro_rules! store_type {
    (
        $(#[$doc:meta])*
        $store:ident($pool:ty), debug: [$($name:ident),*]
        $(, $(#[$fdoc:meta])* $field:ident: $ty:ty = $init:expr)*
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $store {
            pool: $pool,
            sql: std::sync::Arc<Queries>,
            clock: std::sync::Arc<dyn session_core::Clock>,
            $($(#[$fdoc])* $field: $ty,)*
        }

        impl $store {
            /// A store on `pool` running `sql`, judging expiry by the
            /// system clock.
            fn on_pool(pool: $pool, sql: Queries) -> Self {
                Self {
                    pool,
                    sql: std::sync::Arc::new(sql),
                    clock: std::sync::Arc::new(session_core::SystemClock),
                    $($field: $init,)*
                }
            }
        }

        impl std::fmt::Debug for $store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($store))
                    .field("pool", &self.pool)
                    $(.field(stringify!($name), &self.$name()))*
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use {
    apply_migrations, count_live, delete_row, load_record, other_logins, statements_of, store_type,
    sweep_expired, user_records,
};
#[cfg(any(feature = "sqlite", feature = "mysql"))]
pub(crate) use {cas_admit, cas_methods, cas_store};
