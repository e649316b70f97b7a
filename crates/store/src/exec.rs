//! One narrow way to run SQL inside a transaction, whatever runs it.
//!
//! The store's write logic (ingest, timer commits, outbox updates, claims) is written once against
//! [`Exec`]. Two things implement it:
//!
//! - sqlx's `AnyConnection`, for PostgreSQL (and for SQLite where a write is not on the hot path);
//! - [`Lite`], a `rusqlite` connection owned by SQLite's writer thread. There every statement runs
//!   synchronously on the thread that owns the database, from a prepared-statement cache: no hop to
//!   another thread per statement, which is what bounded ingest through sqlx's SQLite driver
//!   (docs/BENCHMARKS.md). Its futures are always ready, so the writer thread drives a whole group
//!   commit with `futures::executor::block_on` and never parks mid-batch.
//!
//! SQL uses `$1`-style parameters, which both databases accept.

use crate::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Column, Row, ValueRef};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

/// Which database is behind the pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A value bound to, or read from, a statement. NULLs carry a type: PostgreSQL needs one.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null(Ty),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
}

/// Whether a statement's rows are wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Affected,
    Rows,
}

#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub affected: u64,
    pub rows: Vec<DbRow>,
}

/// Runs one statement inside the caller's transaction.
pub(crate) trait Exec: Send {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Val>,
        want: Want,
    ) -> BoxFut<'a, StoreResult<Rows>>;
}

/// One result row: values by position, names shared by every row of the result.
#[derive(Debug, Clone)]
pub(crate) struct DbRow {
    names: Arc<[String]>,
    vals: Vec<Val>,
}

pub(crate) trait ColIdx {
    fn index(&self, names: &[String]) -> Option<usize>;
}

impl ColIdx for &str {
    fn index(&self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }
}

impl ColIdx for usize {
    fn index(&self, names: &[String]) -> Option<usize> {
        (*self < names.len()).then_some(*self)
    }
}

impl DbRow {
    /// The column `i` (a name or a position) as `T`.
    pub fn try_get<T: FromVal, I: ColIdx>(&self, i: I) -> StoreResult<T> {
        let at = i
            .index(&self.names)
            .ok_or_else(|| StoreError::Corrupt(format!("no column {:?}", self.names)))?;
        T::from_val(&self.vals[at])
            .map_err(|e| StoreError::Corrupt(format!("column {}: {e}", self.names[at].as_str())))
    }

    /// As [`DbRow::try_get`] (kept as sqlx's name for the same thing).
    pub fn get<T: FromVal, I: ColIdx>(&self, i: I) -> StoreResult<T> {
        self.try_get(i)
    }

    /// A sqlx row, read into values by each column's type.
    pub fn from_any(row: &AnyRow) -> StoreResult<DbRow> {
        let names: Arc<[String]> = row.columns().iter().map(|c| c.name().to_string()).collect();
        let mut vals = Vec::with_capacity(names.len());
        for i in 0..names.len() {
            vals.push(any_val(row, i)?);
        }
        Ok(DbRow { names, vals })
    }
}

fn any_val(row: &AnyRow, i: usize) -> StoreResult<Val> {
    use sqlx::any::AnyTypeInfoKind as K;
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Val::Null(Ty::Text));
    }
    let kind = raw.type_info().kind();
    Ok(match kind {
        K::Null => Val::Null(Ty::Text),
        K::Bool => Val::Int(i64::from(row.try_get::<bool, _>(i)?)),
        K::SmallInt | K::Integer | K::BigInt => Val::Int(row.try_get::<i64, _>(i)?),
        K::Real | K::Double => Val::Real(row.try_get::<f64, _>(i)?),
        K::Text => Val::Text(row.try_get::<String, _>(i)?),
        K::Blob => Val::Blob(row.try_get::<Vec<u8>, _>(i)?),
    })
}

/// Reads a [`Val`] as a Rust type.
pub(crate) trait FromVal: Sized {
    fn from_val(v: &Val) -> Result<Self, String>;
}

fn mismatch<T>(want: &str, v: &Val) -> Result<T, String> {
    Err(format!("expected {want}, found {v:?}"))
}

impl FromVal for i64 {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Int(i) => Ok(*i),
            other => mismatch("an integer", other),
        }
    }
}

impl FromVal for f64 {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Real(f) => Ok(*f),
            #[allow(clippy::cast_precision_loss)]
            Val::Int(i) => Ok(*i as f64),
            other => mismatch("a number", other),
        }
    }
}

impl FromVal for bool {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Int(i) => Ok(*i != 0),
            other => mismatch("a boolean", other),
        }
    }
}

impl FromVal for String {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Text(s) => Ok(s.clone()),
            other => mismatch("text", other),
        }
    }
}

impl FromVal for Vec<u8> {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Blob(b) => Ok(b.clone()),
            Val::Text(s) => Ok(s.as_bytes().to_vec()),
            other => mismatch("bytes", other),
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: &Val) -> Result<Self, String> {
        match v {
            Val::Null(_) => Ok(None),
            other => T::from_val(other).map(Some),
        }
    }
}

/// What may be bound to a statement.
pub(crate) trait IntoVal {
    fn into_val(self) -> Val;
}

impl IntoVal for Val {
    fn into_val(self) -> Val {
        self
    }
}
impl IntoVal for i64 {
    fn into_val(self) -> Val {
        Val::Int(self)
    }
}
impl IntoVal for f64 {
    fn into_val(self) -> Val {
        Val::Real(self)
    }
}
impl IntoVal for bool {
    fn into_val(self) -> Val {
        Val::Int(i64::from(self))
    }
}
impl IntoVal for &str {
    fn into_val(self) -> Val {
        Val::Text(self.to_string())
    }
}
impl IntoVal for String {
    fn into_val(self) -> Val {
        Val::Text(self)
    }
}
impl IntoVal for &String {
    fn into_val(self) -> Val {
        Val::Text(self.clone())
    }
}
impl IntoVal for Vec<u8> {
    fn into_val(self) -> Val {
        Val::Blob(self)
    }
}
impl IntoVal for &[u8] {
    fn into_val(self) -> Val {
        Val::Blob(self.to_vec())
    }
}
impl IntoVal for Option<i64> {
    fn into_val(self) -> Val {
        self.map_or(Val::Null(Ty::Int), Val::Int)
    }
}
impl IntoVal for Option<&str> {
    fn into_val(self) -> Val {
        self.map_or(Val::Null(Ty::Text), |s| Val::Text(s.to_string()))
    }
}
impl IntoVal for Option<String> {
    fn into_val(self) -> Val {
        self.map_or(Val::Null(Ty::Text), Val::Text)
    }
}
impl IntoVal for &Option<String> {
    fn into_val(self) -> Val {
        self.as_deref().into_val()
    }
}
impl IntoVal for Option<&String> {
    fn into_val(self) -> Val {
        self.map(String::as_str).into_val()
    }
}

/// What a write changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Affected(u64);

impl Affected {
    pub fn rows_affected(&self) -> u64 {
        self.0
    }
}

/// A statement and its arguments, run with [`Exec`]. The same shape as `sqlx::query`.
pub(crate) struct Query<'s> {
    sql: &'s str,
    args: Vec<Val>,
}

pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
    }
}

impl<'s> Query<'s> {
    pub fn bind(mut self, v: impl IntoVal) -> Self {
        self.args.push(v.into_val());
        self
    }

    /// Rows changed.
    pub async fn execute(self, x: &mut (dyn Exec + '_)) -> StoreResult<Affected> {
        Ok(Affected(
            x.run(self.sql, self.args, Want::Affected).await?.affected,
        ))
    }

    pub async fn fetch_all(self, x: &mut (dyn Exec + '_)) -> StoreResult<Vec<DbRow>> {
        Ok(x.run(self.sql, self.args, Want::Rows).await?.rows)
    }

    pub async fn fetch_optional(self, x: &mut (dyn Exec + '_)) -> StoreResult<Option<DbRow>> {
        Ok(self.fetch_all(x).await?.into_iter().next())
    }

    pub async fn fetch_one(self, x: &mut (dyn Exec + '_)) -> StoreResult<DbRow> {
        self.fetch_optional(x)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a query returned no row".into()))
    }
}

/// A statement whose first column is the answer. The same shape as `sqlx::query_scalar`.
pub(crate) struct Scalar<'s, T> {
    q: Query<'s>,
    _t: PhantomData<fn() -> T>,
}

pub(crate) fn query_scalar<T: FromVal>(sql: &str) -> Scalar<'_, T> {
    Scalar {
        q: query(sql),
        _t: PhantomData,
    }
}

impl<'s, T: FromVal> Scalar<'s, T> {
    pub fn bind(mut self, v: impl IntoVal) -> Self {
        self.q = self.q.bind(v);
        self
    }

    pub async fn fetch_all(self, x: &mut (dyn Exec + '_)) -> StoreResult<Vec<T>> {
        self.q
            .fetch_all(x)
            .await?
            .iter()
            .map(|r| r.try_get(0usize))
            .collect()
    }

    pub async fn fetch_optional(self, x: &mut (dyn Exec + '_)) -> StoreResult<Option<T>> {
        match self.q.fetch_optional(x).await? {
            Some(r) => Ok(Some(r.try_get(0usize)?)),
            None => Ok(None),
        }
    }

    pub async fn fetch_one(self, x: &mut (dyn Exec + '_)) -> StoreResult<T> {
        self.q.fetch_one(x).await?.try_get(0usize)
    }
}

/// sqlx on one connection (or transaction): PostgreSQL, and SQLite off the hot path.
pub(crate) struct Sqlx<'c>(pub &'c mut AnyConnection);

/// sqlx on a pool: each statement on whichever connection is free (reads; single statements).
pub(crate) struct Pool<'p>(pub &'p AnyPool);

fn sqlx_query(
    sql: &str,
    args: Vec<Val>,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    let mut q = sqlx::query(sql);
    for a in args {
        q = match a {
            Val::Null(Ty::Int) => q.bind(None::<i64>),
            Val::Null(Ty::Text) => q.bind(None::<String>),
            Val::Int(i) => q.bind(i),
            Val::Real(f) => q.bind(f),
            Val::Text(s) => q.bind(s),
            Val::Blob(b) => q.bind(b),
        };
    }
    q
}

async fn sqlx_run<'e, X>(x: X, sql: &str, args: Vec<Val>, want: Want) -> StoreResult<Rows>
where
    X: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let q = sqlx_query(sql, args);
    match want {
        Want::Affected => Ok(Rows {
            affected: x.execute(q).await?.rows_affected(),
            rows: Vec::new(),
        }),
        Want::Rows => {
            let rows = x.fetch_all(q).await?;
            Ok(Rows {
                affected: rows.len() as u64,
                rows: rows
                    .iter()
                    .map(DbRow::from_any)
                    .collect::<StoreResult<_>>()?,
            })
        }
    }
}

impl Exec for Sqlx<'_> {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Val>,
        want: Want,
    ) -> BoxFut<'a, StoreResult<Rows>> {
        Box::pin(sqlx_run(&mut *self.0, sql, args, want))
    }
}

impl Exec for Pool<'_> {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Val>,
        want: Want,
    ) -> BoxFut<'a, StoreResult<Rows>> {
        Box::pin(sqlx_run(self.0, sql, args, want))
    }
}

/// SQLite's writer thread's own connection.
pub(crate) struct Lite {
    pub conn: rusqlite::Connection,
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        Ok(ToSqlOutput::Borrowed(match self {
            Val::Null(_) => V::Null,
            Val::Int(i) => V::Integer(*i),
            Val::Real(f) => V::Real(*f),
            Val::Text(s) => V::Text(s.as_bytes()),
            Val::Blob(b) => V::Blob(b),
        }))
    }
}

impl Lite {
    /// Opens the writer's connection to the SQLite file at `path` (migrations already run).
    /// `synchronous = NORMAL`: a commit reaches the WAL, and the group writer's syncer flushes
    /// the WAL before any caller hears of it (see `sql::group_writer`). No automatic checkpoint:
    /// the store's checkpointer thread copies the WAL back without stopping the writer.
    pub fn open(path: &str) -> StoreResult<Lite> {
        let conn = rusqlite::Connection::open(path).map_err(lite)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 0; \
             PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(lite)?;
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Lite { conn })
    }

    /// A read-only connection for a reader thread.
    pub fn open_reader(path: &str) -> StoreResult<Lite> {
        let conn = rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(lite)?;
        conn.execute_batch("PRAGMA busy_timeout = 10000; PRAGMA cache_size = -8192;")
            .map_err(lite)?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(Lite { conn })
    }

    fn run_now(&mut self, sql: &str, args: &[Val], want: Want) -> StoreResult<Rows> {
        let mut st = self.conn.prepare_cached(sql).map_err(lite)?;
        for i in 1..=st.parameter_count() {
            // `$n` names its argument; anything else binds in order.
            let at = st
                .parameter_name(i)
                .and_then(|n| n.strip_prefix('$'))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(i);
            let v = args.get(at.wrapping_sub(1)).ok_or_else(|| {
                StoreError::Corrupt(format!("{sql}: no argument for parameter {at}"))
            })?;
            st.raw_bind_parameter(i, v).map_err(lite)?;
        }
        if want == Want::Affected && st.column_count() == 0 {
            let affected = st.raw_execute().map_err(lite)?;
            return Ok(Rows {
                affected: affected as u64,
                rows: Vec::new(),
            });
        }
        let names: Arc<[String]> = st.column_names().into_iter().map(String::from).collect();
        let width = names.len();
        let mut out = Vec::new();
        let mut rows = st.raw_query();
        while let Some(row) = rows.next().map_err(lite)? {
            let mut vals = Vec::with_capacity(width);
            for i in 0..width {
                use rusqlite::types::ValueRef as V;
                vals.push(match row.get_ref(i).map_err(lite)? {
                    V::Null => Val::Null(Ty::Text),
                    V::Integer(n) => Val::Int(n),
                    V::Real(f) => Val::Real(f),
                    V::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    V::Blob(b) => Val::Blob(b.to_vec()),
                });
            }
            out.push(DbRow {
                names: names.clone(),
                vals,
            });
        }
        drop(rows);
        let affected = if want == Want::Affected {
            self.conn.changes()
        } else {
            out.len() as u64
        };
        Ok(Rows {
            affected,
            rows: out,
        })
    }
}

impl Exec for Lite {
    fn run<'a>(
        &'a mut self,
        sql: &'a str,
        args: Vec<Val>,
        want: Want,
    ) -> BoxFut<'a, StoreResult<Rows>> {
        let r = self.run_now(sql, &args, want);
        Box::pin(std::future::ready(r))
    }
}

pub(crate) fn lite(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite(e.to_string())
}

/// `base` plus ` AND column = $n` for every condition that has a value, ordered, with a final
/// `LIMIT $n` for the caller to bind last. Returns the SQL and the values to bind, in order.
pub(crate) fn filtered(
    base: &str,
    conditions: &[(&str, Option<String>)],
    order_by: &str,
) -> (String, Vec<String>) {
    let mut sql = base.to_string();
    let mut binds = Vec::new();
    for (column, value) in conditions {
        if let Some(v) = value {
            binds.push(v.clone());
            sql.push_str(&format!(" AND {column} = ${}", binds.len()));
        }
    }
    sql.push_str(&format!(" ORDER BY {order_by} LIMIT ${}", binds.len() + 1));
    (sql, binds)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}
