//! A table-driven CRUD resource over one tenant connection: list (paged), get, create, update,
//! delete, with validation that names the field. Each resource is a static description; all SQL is
//! built from those constants and values are always bound.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use tenantry::db;
use tenantry::pools::TenantConnection;
use tenantry::router::ApiError;

/// How a field is checked and stored.
pub enum Kind {
    /// Text up to `max` characters.
    Text { max: usize },
    /// One of the listed values.
    OneOf(&'static [&'static str]),
    /// The id of a row in another table of the same tenant.
    Ref(&'static str),
}

pub struct Field {
    pub column: &'static str,
    pub json: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Used on create when the field is absent.
    pub default: Option<&'static str>,
}

/// A resource: a table, its writable fields, and the tables whose rows point at it.
pub struct Resource {
    pub table: &'static str,
    pub singular: &'static str,
    pub fields: &'static [Field],
    /// `(table, column)` pairs that reference this resource: a referenced row is not deleted.
    pub referenced_by: &'static [(&'static str, &'static str)],
}

/// A validated field value.
enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl Resource {
    fn columns(&self) -> String {
        let mut cols = vec!["id"];
        cols.extend(self.fields.iter().map(|f| f.column));
        cols.extend(["created_at", "updated_at"]);
        cols.join(", ")
    }

    fn to_json(&self, row: &AnyRow) -> Result<Value, ApiError> {
        let mut m = Map::new();
        m.insert("id".into(), row.try_get::<i64, _>("id")?.into());
        for f in self.fields {
            let v: Value = match f.kind {
                Kind::Ref(_) => row.try_get::<Option<i64>, _>(f.column)?.into(),
                _ => row.try_get::<Option<String>, _>(f.column)?.into(),
            };
            m.insert(f.json.into(), v);
        }
        m.insert(
            "createdAt".into(),
            row.try_get::<String, _>("created_at")?.into(),
        );
        m.insert(
            "updatedAt".into(),
            row.try_get::<String, _>("updated_at")?.into(),
        );
        Ok(Value::Object(m))
    }

    pub async fn list(
        &self,
        conn: &mut TenantConnection,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<Value>, i64), ApiError> {
        let count_q = format!("SELECT COUNT(*) FROM {}", self.table);
        let total: i64 = sqlx::query_scalar(&count_q).fetch_one(&mut **conn).await?;
        let q = format!(
            "SELECT {} FROM {} ORDER BY id LIMIT ? OFFSET ?",
            self.columns(),
            self.table
        );
        let rows = sqlx::query(&conn.sql(&q))
            .bind(i64::from(limit))
            .bind(i64::from(page - 1) * i64::from(limit))
            .fetch_all(&mut **conn)
            .await?;
        let data = rows
            .iter()
            .map(|r| self.to_json(r))
            .collect::<Result<_, _>>()?;
        Ok((data, total))
    }

    pub async fn get(&self, conn: &mut TenantConnection, id: i64) -> Result<Value, ApiError> {
        let q = format!("SELECT {} FROM {} WHERE id = ?", self.columns(), self.table);
        let row = sqlx::query(&conn.sql(&q))
            .bind(id)
            .fetch_optional(&mut **conn)
            .await?;
        match row {
            Some(r) => self.to_json(&r),
            None => Err(ApiError::not_found(
                "not_found",
                format!("{} {id} not found", self.singular),
            )),
        }
    }

    /// Validates `input` (merged over `base` for updates) into values in field order.
    async fn validate(
        &self,
        conn: &mut TenantConnection,
        input: &Value,
        base: Option<&Value>,
    ) -> Result<Vec<Val>, ApiError> {
        let Some(obj) = input.as_object() else {
            return Err(ApiError::bad_request(
                "invalid_body",
                "body must be a JSON object",
            ));
        };
        let bad = |field: &str, why: &str| {
            ApiError::bad_request("invalid_input", format!("{field}: {why}"))
        };
        let mut out = Vec::with_capacity(self.fields.len());
        for f in self.fields {
            let v = obj
                .get(f.json)
                .or_else(|| base.and_then(|b| b.get(f.json)))
                .filter(|v| !v.is_null());
            let default = f.default.map(|d| Value::String(d.into()));
            let v = v.or(default.as_ref());
            let val = match (&f.kind, v) {
                (_, None) if f.required => return Err(bad(f.json, "is required")),
                (Kind::Ref(_), None) => Val::Int(None),
                (_, None) => Val::Text(None),
                (Kind::Text { max }, Some(v)) => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| bad(f.json, "must be a string"))?
                        .trim();
                    if f.required && s.is_empty() {
                        return Err(bad(f.json, "must not be empty"));
                    }
                    if s.chars().count() > *max {
                        return Err(bad(f.json, &format!("must be at most {max} characters")));
                    }
                    Val::Text(Some(s.to_owned()))
                }
                (Kind::OneOf(allowed), Some(v)) => {
                    let s = v.as_str().filter(|s| allowed.contains(s));
                    let s = s.ok_or_else(|| {
                        bad(f.json, &format!("must be one of: {}", allowed.join(", ")))
                    })?;
                    Val::Text(Some(s.to_owned()))
                }
                (Kind::Ref(table), Some(v)) => {
                    let id = v
                        .as_i64()
                        .ok_or_else(|| bad(f.json, "must be an integer id"))?;
                    let q = format!("SELECT COUNT(*) FROM {table} WHERE id = ?");
                    let n: i64 = sqlx::query_scalar(&conn.sql(&q))
                        .bind(id)
                        .fetch_one(&mut **conn)
                        .await?;
                    if n == 0 {
                        return Err(bad(f.json, &format!("no row {id} in {table}")));
                    }
                    Val::Int(Some(id))
                }
            };
            out.push(val);
        }
        Ok(out)
    }

    fn bind_all<'q>(
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        vals: Vec<Val>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in vals {
            q = match v {
                Val::Text(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
        q
    }

    pub async fn create(
        &self,
        conn: &mut TenantConnection,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let vals = self.validate(conn, input, None).await?;
        let cols: Vec<_> = self.fields.iter().map(|f| f.column).collect();
        let marks = vec!["?"; cols.len() + 2].join(", ");
        let mut q = format!(
            "INSERT INTO {} ({}, created_at, updated_at) VALUES ({marks})",
            self.table,
            cols.join(", ")
        );
        let now = db::now();
        // MySQL has no INSERT … RETURNING (MariaDB has, MySQL not): it reports the id instead.
        let returning = conn.engine() != tenantry::tenant::Engine::Mysql;
        if returning {
            q.push_str(" RETURNING id");
        }
        let q = conn.sql(&q).into_owned();
        let query = Self::bind_all(sqlx::query(&q), vals)
            .bind(now.clone())
            .bind(now);
        let id = if returning {
            query.fetch_one(&mut **conn).await?.try_get::<i64, _>(0)?
        } else {
            let done = query.execute(&mut **conn).await?;
            done.last_insert_id()
                .ok_or_else(|| ApiError::internal(&sqlx::Error::RowNotFound))?
        };
        self.get(conn, id).await
    }

    pub async fn update(
        &self,
        conn: &mut TenantConnection,
        id: i64,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let base = self.get(conn, id).await?;
        let vals = self.validate(conn, input, Some(&base)).await?;
        let sets: Vec<_> = self
            .fields
            .iter()
            .map(|f| format!("{} = ?", f.column))
            .collect();
        let q = format!(
            "UPDATE {} SET {}, updated_at = ? WHERE id = ?",
            self.table,
            sets.join(", ")
        );
        let q = conn.sql(&q).into_owned();
        Self::bind_all(sqlx::query(&q), vals)
            .bind(db::now())
            .bind(id)
            .execute(&mut **conn)
            .await?;
        self.get(conn, id).await
    }

    pub async fn delete(&self, conn: &mut TenantConnection, id: i64) -> Result<(), ApiError> {
        self.get(conn, id).await?;
        for (table, column) in self.referenced_by {
            let q = format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?");
            let n: i64 = sqlx::query_scalar(&conn.sql(&q))
                .bind(id)
                .fetch_one(&mut **conn)
                .await?;
            if n > 0 {
                return Err(ApiError::new(
                    axum::http::StatusCode::CONFLICT,
                    "in_use",
                    format!(
                        "{} {id} is still referenced by {n} row(s) of {table}",
                        self.singular
                    ),
                ));
            }
        }
        let q = format!("DELETE FROM {} WHERE id = ?", self.table);
        sqlx::query(&conn.sql(&q))
            .bind(id)
            .execute(&mut **conn)
            .await?;
        Ok(())
    }
}
