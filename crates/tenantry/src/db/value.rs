//! Engine-neutral statements over an [`EngineConnection`]: the library's own SQL (users, the sample
//! API, migrations bookkeeping) is written once with `?` placeholders and typed values, and runs on
//! each engine's own driver. Values are always bound, never spliced. On SQL Server the statement
//! is translated first ([`super::tsql`]: `@Pn` placeholders, `OFFSET … FETCH`, `OUTPUT
//! inserted.id`, NULL keywords); booleans are `BIT`, times `DATETIME2` in UTC.

use super::conn::EngineConnection;
use super::mssql::Bound;
use super::tsql;
use crate::tenant::Engine;
use chrono::{DateTime, Utc};
use sqlx::Row;

/// A column's type, as the caller expects to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    Int,
    Text,
    Bool,
    Time,
}

/// A bound parameter or a value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// A typed NULL (PostgreSQL wants to know the type of every parameter).
    Null(ColType),
    Int(i64),
    Text(String),
    Bool(bool),
    Time(DateTime<Utc>),
}

impl SqlValue {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            SqlValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Optional text, for nullable text columns.
    pub fn text(value: Option<&str>) -> Self {
        value.map_or(SqlValue::Null(ColType::Text), |s| {
            SqlValue::Text(s.to_owned())
        })
    }

    /// Optional integer, for nullable reference columns.
    pub fn int(value: Option<i64>) -> Self {
        value.map_or(SqlValue::Null(ColType::Int), SqlValue::Int)
    }

    /// The value as JSON: timestamps as RFC 3339 UTC with milliseconds.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            SqlValue::Null(_) => serde_json::Value::Null,
            SqlValue::Int(i) => (*i).into(),
            SqlValue::Text(s) => s.as_str().into(),
            SqlValue::Bool(b) => (*b).into(),
            SqlValue::Time(t) => crate::db::timestamp(t).into(),
        }
    }
}

/// Written as [`SqlValue::to_json`] would, without building a `serde_json::Value` first (so a page
/// of rows is serialized straight into the response body).
impl serde::Serialize for SqlValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SqlValue::Null(_) => s.serialize_none(),
            SqlValue::Int(i) => s.serialize_i64(*i),
            SqlValue::Text(t) => s.serialize_str(t),
            SqlValue::Bool(b) => s.serialize_bool(*b),
            SqlValue::Time(t) => s.serialize_str(&crate::db::timestamp(t)),
        }
    }
}

/// A row read with [`EngineConnection::fetch_all`]: values in the order of the requested columns.
pub type Values = Vec<SqlValue>;

macro_rules! bind_values {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                SqlValue::Null(ColType::Int) => q.bind(None::<i64>),
                SqlValue::Null(ColType::Text) => q.bind(None::<String>),
                SqlValue::Null(ColType::Bool) => q.bind(None::<bool>),
                SqlValue::Null(ColType::Time) => q.bind(None::<DateTime<Utc>>),
                SqlValue::Int(i) => q.bind(*i),
                SqlValue::Text(s) => q.bind(s.as_str()),
                SqlValue::Bool(b) => q.bind(*b),
                SqlValue::Time(t) => q.bind(*t),
            };
        }
        q
    }};
}

macro_rules! decode_row {
    ($row:expr, $cols:expr) => {{
        let row = $row;
        let mut out = Vec::with_capacity($cols.len());
        for (i, col) in $cols.iter().enumerate() {
            out.push(match col {
                ColType::Int => row
                    .try_get::<Option<i64>, _>(i)?
                    .map_or(SqlValue::Null(ColType::Int), SqlValue::Int),
                ColType::Text => row
                    .try_get::<Option<String>, _>(i)?
                    .map_or(SqlValue::Null(ColType::Text), SqlValue::Text),
                ColType::Bool => row
                    .try_get::<Option<bool>, _>(i)?
                    .map_or(SqlValue::Null(ColType::Bool), SqlValue::Bool),
                ColType::Time => row
                    .try_get::<Option<DateTime<Utc>>, _>(i)?
                    .map_or(SqlValue::Null(ColType::Time), SqlValue::Time),
            });
        }
        out
    }};
}

/// Runs `$body` with `$c` bound to the typed sqlx connection and `$sql` rewritten for its engine,
/// or `$mssql` with `$m` bound to a SQL Server connection.
macro_rules! on_engine {
    ($conn:expr, $text:expr, |$c:ident, $sql:ident| $body:expr, |$m:ident| $mssql:expr) => {{
        let engine = $conn.engine();
        match $conn {
            EngineConnection::Postgres($c) => {
                let rewritten = crate::db::sql(engine, $text);
                let $sql: &str = &rewritten;
                $body
            }
            EngineConnection::Mysql($c) => {
                let rewritten = crate::db::sql(engine, $text);
                let $sql: &str = &rewritten;
                $body
            }
            EngineConnection::Sqlite($c) => {
                let rewritten = crate::db::sql(engine, $text);
                let $sql: &str = &rewritten;
                $body
            }
            EngineConnection::Mssql($m) => $mssql,
        }
    }};
}

impl EngineConnection {
    /// Runs a statement; returns the number of rows it affected.
    pub async fn execute(&mut self, text: &str, args: &[SqlValue]) -> Result<u64, sqlx::Error> {
        on_engine!(
            self,
            text,
            |c, sql| {
                Ok(bind_values!(sqlx::query(sql), args)
                    .execute(&mut *c)
                    .await?
                    .rows_affected())
            },
            |m| {
                let s = tsql::statement(text, args);
                m.execute(s.sql, bound(&s.args)).await
            }
        )
    }

    /// Every row of a query, each decoded into `cols` (by position).
    pub async fn fetch_all(
        &mut self,
        text: &str,
        args: &[SqlValue],
        cols: &[ColType],
    ) -> Result<Vec<Values>, sqlx::Error> {
        on_engine!(
            self,
            text,
            |c, sql| {
                let rows = bind_values!(sqlx::query(sql), args)
                    .fetch_all(&mut *c)
                    .await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(decode_row!(row, cols));
                }
                Ok(out)
            },
            |m| {
                let s = tsql::statement(text, args);
                let rows = m.rows(s.sql, bound(&s.args), false).await?;
                rows.iter().map(|r| decode_mssql(r, cols)).collect()
            }
        )
    }

    /// The first row of a query, if any.
    pub async fn fetch_optional(
        &mut self,
        text: &str,
        args: &[SqlValue],
        cols: &[ColType],
    ) -> Result<Option<Values>, sqlx::Error> {
        on_engine!(
            self,
            text,
            |c, sql| {
                match bind_values!(sqlx::query(sql), args)
                    .fetch_optional(&mut *c)
                    .await?
                {
                    Some(row) => Ok(Some(decode_row!(&row, cols))),
                    None => Ok(None),
                }
            },
            |m| {
                let s = tsql::statement(text, args);
                let rows = m.rows(s.sql, bound(&s.args), false).await?;
                rows.first().map(|r| decode_mssql(r, cols)).transpose()
            }
        )
    }

    /// A single integer (e.g. `SELECT COUNT(*) …`).
    pub async fn fetch_i64(&mut self, text: &str, args: &[SqlValue]) -> Result<i64, sqlx::Error> {
        let row = self.fetch_optional(text, args, &[ColType::Int]).await?;
        row.and_then(|r| r[0].as_i64())
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Inserts one row (`text` is an `INSERT` without `RETURNING`) and returns its `id`.
    pub async fn insert_returning_id(
        &mut self,
        text: &str,
        args: &[SqlValue],
    ) -> Result<i64, sqlx::Error> {
        match self.engine() {
            // MySQL has no INSERT … RETURNING (MariaDB has); both report the generated id.
            Engine::Mysql => {
                let sql = text.to_owned();
                let EngineConnection::Mysql(c) = self else {
                    unreachable!("engine checked above")
                };
                let done = bind_values!(sqlx::query(&sql), args)
                    .execute(&mut *c)
                    .await?;
                i64::try_from(done.last_insert_id()).map_err(|_| sqlx::Error::RowNotFound)
            }
            // SQL Server: `OUTPUT inserted.id` (fine without triggers, as the tenant schema is).
            Engine::Mssql => {
                let output = tsql::output_inserted_id(text).ok_or_else(|| {
                    sqlx::Error::Configuration(
                        "insert_returning_id needs an INSERT … VALUES statement".into(),
                    )
                })?;
                self.fetch_i64(&output, args).await
            }
            _ => {
                let returning = format!("{text} RETURNING id");
                self.fetch_i64(&returning, args).await
            }
        }
    }
}

/// The non-null arguments of a translated statement, owned for tiberius. Times are truncated to
/// milliseconds (the columns are `DATETIME2(3)`; SQL Server would round).
fn bound(args: &[SqlValue]) -> Vec<Bound> {
    use chrono::SubsecRound;
    args.iter()
        .filter_map(|a| match a {
            SqlValue::Null(_) => None,
            SqlValue::Int(i) => Some(Bound::Int(*i)),
            SqlValue::Text(s) => Some(Bound::Text(s.clone())),
            SqlValue::Bool(b) => Some(Bound::Bool(*b)),
            SqlValue::Time(t) => Some(Bound::Time(t.trunc_subsecs(3).naive_utc())),
        })
        .collect()
}

/// A SQL Server row decoded into `cols` (by position).
fn decode_mssql(row: &tiberius::Row, cols: &[ColType]) -> Result<Values, sqlx::Error> {
    use tiberius::{ColumnData as D, FromSql};
    let mut out = Vec::with_capacity(cols.len());
    for (i, col) in cols.iter().enumerate() {
        let data = row.cells().nth(i).map(|(_, d)| d).ok_or_else(|| {
            sqlx::Error::ColumnIndexOutOfBounds {
                index: i,
                len: row.len(),
            }
        })?;
        let mismatch =
            || sqlx::Error::Decode(format!("column {i}: {data:?} is not a {col:?} value").into());
        let value = match (col, data) {
            (ColType::Int, D::U8(v)) => v.map(|n| SqlValue::Int(n.into())),
            (ColType::Int, D::I16(v)) => v.map(|n| SqlValue::Int(n.into())),
            (ColType::Int, D::I32(v)) => v.map(|n| SqlValue::Int(n.into())),
            (ColType::Int, D::I64(v)) => v.map(SqlValue::Int),
            (ColType::Int, D::Numeric(v)) => match v {
                Some(n) if n.scale() == 0 => Some(SqlValue::Int(
                    i64::try_from(n.value()).map_err(|_| mismatch())?,
                )),
                Some(_) => return Err(mismatch()),
                None => None,
            },
            (ColType::Text, D::String(v)) => v.as_deref().map(|s| SqlValue::Text(s.to_owned())),
            (ColType::Text, D::Guid(v)) => v.map(|g| SqlValue::Text(g.to_string())),
            (ColType::Bool, D::Bit(v)) => v.map(SqlValue::Bool),
            (ColType::Bool, D::U8(v)) => v.map(|n| SqlValue::Bool(n != 0)),
            (ColType::Bool, D::I32(v)) => v.map(|n| SqlValue::Bool(n != 0)),
            (ColType::Time, D::DateTimeOffset(_)) => DateTime::<Utc>::from_sql(data)
                .map_err(super::mssql::from_tiberius)?
                .map(SqlValue::Time),
            (ColType::Time, D::DateTime(_) | D::DateTime2(_) | D::SmallDateTime(_)) => {
                chrono::NaiveDateTime::from_sql(data)
                    .map_err(super::mssql::from_tiberius)?
                    .map(|t| SqlValue::Time(t.and_utc()))
            }
            _ => return Err(mismatch()),
        };
        out.push(value.unwrap_or(SqlValue::Null(*col)));
    }
    Ok(out)
}
