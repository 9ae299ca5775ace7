//! The data API's statements for SQL Server, over a static table description: a page with its
//! total in one statement (`COUNT_BIG(*) OVER()` + `OFFSET … FETCH`), get by id, insert returning
//! the new id (`OUTPUT inserted.id`), update and delete by id. Every value is bound (`@P1`, …;
//! a null is the keyword `NULL`); table and column names come from the description, are checked
//! against `[a-z_][a-z0-9_]*` and bracket-quoted. Unqualified table names resolve in the connection user's default schema.

use super::ident::column as ident;
use super::json::cell_to_json;
pub use super::json::{format_time, SqlValue};
use super::{MssqlClient, MssqlError};
use serde_json::{Map, Value};
use tiberius::{Query, Row};

/// A column: its SQL name and its key in the JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub json: &'static str,
}

/// A table as the data API sees it. `columns` are the ones read (and the JSON keys, in order);
/// the table has a `BIGINT IDENTITY` column `id`.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
}

/// One page of rows and the table's total row count.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<Value>,
    pub total: i64,
}

impl Table {
    fn select_list(&self) -> Result<String, MssqlError> {
        let cols = self
            .columns
            .iter()
            .map(|c| ident(c.name))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(cols.join(", "))
    }

    /// The row as a JSON object keyed by the columns' JSON names.
    pub fn row_to_json(&self, row: &Row) -> Result<Value, MssqlError> {
        let mut out = Map::new();
        for (i, c) in self.columns.iter().enumerate() {
            let data = row.get_column_data(i).map_err(|e| MssqlError::Decode {
                column: c.name.to_owned(),
                reason: e.to_string(),
            })?;
            out.insert(c.json.to_owned(), cell_to_json(c.name, data)?);
        }
        Ok(Value::Object(out))
    }

    /// The bracketed names of the columns `values` set; each must be one of the table's.
    fn columns_of(&self, values: &[(&str, SqlValue)]) -> Result<Vec<String>, MssqlError> {
        values
            .iter()
            .map(|(name, _)| {
                if !self.columns.iter().any(|c| c.name == *name) {
                    return Err(MssqlError::InvalidIdentifier((*name).to_owned()));
                }
                ident(name)
            })
            .collect()
    }
}

/// `@P1`, `@P2`, … for the values, and the keyword `NULL` for the nulls among them: tiberius sends
/// a null parameter as TDS `NULLTYPE` (0x1F), which Babelfish rejects and SQL Server types as
/// `int` (clashing with `DATETIME2`), so nulls are written into the statement instead of bound.
fn placeholders(values: &[(&str, SqlValue)]) -> Vec<String> {
    let mut n = 0;
    values
        .iter()
        .map(|(_, v)| {
            if v.is_null() {
                "NULL".to_owned()
            } else {
                n += 1;
                format!("@P{n}")
            }
        })
        .collect()
}

/// The query with the non-null `values` bound in order (see [`placeholders`]).
fn bound(sql: String, values: &[(&str, SqlValue)]) -> Query<'static> {
    let mut query = Query::new(sql);
    for (_, v) in values.iter().filter(|(_, v)| !v.is_null()) {
        query.bind(v.clone());
    }
    query
}

/// Rows `offset .. offset + limit` in id order, and the total, in one statement. An empty first
/// page (offset 0) means an empty table, total 0; a page past the end has no row to carry the
/// total, so then the total is counted on its own. SQL Server wants
/// `offset >= 0` and `limit >= 1` (the caller validates paging input).
pub async fn list(
    client: &mut MssqlClient,
    table: &Table,
    offset: i64,
    limit: i64,
) -> Result<Page, MssqlError> {
    let t = ident(table.name)?;
    let sql = format!(
        "SELECT {cols}, COUNT_BIG(*) OVER() AS [_total] FROM {t} ORDER BY [id] \
         OFFSET @P1 ROWS FETCH NEXT @P2 ROWS ONLY",
        cols = table.select_list()?
    );
    let rows = client
        .query(sql, &[&offset, &limit])
        .await
        .map_err(MssqlError::query("list rows"))?
        .into_first_result()
        .await
        .map_err(MssqlError::query("list rows"))?;
    let total_at = table.columns.len();
    let total = match rows.first() {
        Some(row) => row.get::<i64, _>(total_at).unwrap_or(0),
        None if offset == 0 => 0,
        None => {
            let count = format!("SELECT COUNT_BIG(*) FROM {t}");
            let row = client
                .simple_query(count)
                .await
                .map_err(MssqlError::query("count rows"))?
                .into_row()
                .await
                .map_err(MssqlError::query("count rows"))?;
            row.and_then(|r| r.get::<i64, _>(0)).unwrap_or(0)
        }
    };
    let rows = rows
        .iter()
        .map(|r| table.row_to_json(r))
        .collect::<Result<_, _>>()?;
    Ok(Page { rows, total })
}

/// The row with `id`, or `None`.
pub async fn get(
    client: &mut MssqlClient,
    table: &Table,
    id: i64,
) -> Result<Option<Value>, MssqlError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE [id] = @P1",
        table.select_list()?,
        ident(table.name)?
    );
    let row = client
        .query(sql, &[&id])
        .await
        .map_err(MssqlError::query("get row"))?
        .into_row()
        .await
        .map_err(MssqlError::query("get row"))?;
    row.map(|r| table.row_to_json(&r)).transpose()
}

/// Inserts a row with `values` and returns its new id (`OUTPUT inserted.id`; SQL Server refuses
/// a bare `OUTPUT` on a table with triggers, which the tenant schema does not have).
pub async fn insert(
    client: &mut MssqlClient,
    table: &Table,
    values: &[(&str, SqlValue)],
) -> Result<i64, MssqlError> {
    let cols = table.columns_of(values)?;
    let t = ident(table.name)?;
    let sql = if values.is_empty() {
        format!("INSERT INTO {t} OUTPUT inserted.[id] DEFAULT VALUES")
    } else {
        let marks = placeholders(values);
        format!(
            "INSERT INTO {t} ({}) OUTPUT inserted.[id] VALUES ({})",
            cols.join(", "),
            marks.join(", ")
        )
    };
    let row = bound(sql, values)
        .query(client)
        .await
        .map_err(MssqlError::query("insert row"))?
        .into_row()
        .await
        .map_err(MssqlError::query("insert row"))?;
    row.and_then(|r| r.get::<i64, _>(0))
        .ok_or_else(|| MssqlError::Decode {
            column: "id".to_owned(),
            reason: "the insert returned no id".to_owned(),
        })
}

/// Sets `values` on the row with `id`; false when there is no such row.
pub async fn update(
    client: &mut MssqlClient,
    table: &Table,
    id: i64,
    values: &[(&str, SqlValue)],
) -> Result<bool, MssqlError> {
    if values.is_empty() {
        return Err(MssqlError::EmptyUpdate);
    }
    let marks = placeholders(values);
    let sets: Vec<String> = table
        .columns_of(values)?
        .iter()
        .zip(&marks)
        .map(|(c, m)| format!("{c} = {m}"))
        .collect();
    let id_mark = marks.iter().filter(|m| m.starts_with('@')).count() + 1;
    let sql = format!(
        "UPDATE {} SET {} WHERE [id] = @P{id_mark}",
        ident(table.name)?,
        sets.join(", "),
    );
    let mut query = bound(sql, values);
    query.bind(id);
    let done = query
        .execute(client)
        .await
        .map_err(MssqlError::query("update row"))?;
    Ok(done.total() > 0)
}

/// Deletes the row with `id`; false when there is no such row.
pub async fn delete(client: &mut MssqlClient, table: &Table, id: i64) -> Result<bool, MssqlError> {
    let sql = format!("DELETE FROM {} WHERE [id] = @P1", ident(table.name)?);
    let done = client
        .execute(sql, &[&id])
        .await
        .map_err(MssqlError::query("delete row"))?;
    Ok(done.total() > 0)
}
