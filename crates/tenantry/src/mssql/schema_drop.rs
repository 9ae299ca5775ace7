//! Emptying a schema before `DROP SCHEMA`: SQL Server refuses to drop a schema that still holds
//! objects and has no `CASCADE`. Object names come from the catalog (a tenant with DDL rights may
//! have created any name), so they are bracket-quoted with `]` doubled.

use super::admin::batch;
use super::ident::{bracket, quoted};
use super::{MssqlClient, MssqlError};
use crate::tenant::DatabaseName;

/// Object types dropped before the tables (they may depend on them), with their `DROP` keyword.
const DEPENDENTS: &[(&str, &str)] = &[
    ("V", "VIEW"),
    ("P", "PROCEDURE"),
    ("FN", "FUNCTION"),
    ("IF", "FUNCTION"),
    ("TF", "FUNCTION"),
    ("SN", "SYNONYM"),
];

/// Drops every foreign key, dependent object, table and sequence of `schema`.
pub(super) async fn drop_contents(
    client: &mut MssqlClient,
    schema: &DatabaseName,
) -> Result<(), MssqlError> {
    let s = quoted(schema);
    // Foreign keys first, so tables can go in any order.
    let fks = names(
        client,
        "SELECT OBJECT_NAME(parent_object_id), name FROM sys.foreign_keys WHERE schema_id = SCHEMA_ID(@P1)",
        schema,
    )
    .await?;
    for (table, fk) in fks {
        let sql = format!(
            "ALTER TABLE {s}.{} DROP CONSTRAINT {}",
            bracket(&table),
            bracket(&fk)
        );
        batch(client, "drop foreign key", &sql).await?;
    }
    for (kind, keyword) in DEPENDENTS
        .iter()
        .copied()
        .chain([("U", "TABLE"), ("SO", "SEQUENCE")])
    {
        // Sequences behind IDENTITY columns may go with their table, so each kind is listed
        // after the previous one was dropped.
        let objects = names(
            client,
            "SELECT RTRIM(type), name FROM sys.objects WHERE schema_id = SCHEMA_ID(@P1)",
            schema,
        )
        .await?;
        for (_, name) in objects.into_iter().filter(|(t, _)| t == kind) {
            let sql = format!("DROP {keyword} {s}.{}", bracket(&name));
            batch(client, "drop schema object", &sql).await?;
        }
    }
    Ok(())
}

/// Two text columns of every row of a query on `@P1 = schema`.
async fn names(
    client: &mut MssqlClient,
    sql: &'static str,
    schema: &DatabaseName,
) -> Result<Vec<(String, String)>, MssqlError> {
    let rows = client
        .query(sql, &[&schema.as_str()])
        .await
        .map_err(MssqlError::query("list schema objects"))?
        .into_first_result()
        .await
        .map_err(MssqlError::query("list schema objects"))?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let a = r.get::<&str, _>(0)?.to_owned();
            let b = r.get::<&str, _>(1)?.to_owned();
            Some((a, b))
        })
        .collect())
}
