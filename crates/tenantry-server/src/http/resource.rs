//! A table-driven CRUD resource over one tenant connection: list (paged), get, create, update,
//! delete, with validation that names the field. Each resource is a static description; all SQL is
//! built from those constants and values are always bound. Runs on every engine's own driver.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use tenantry::db::{ColType, EngineConnection, SqlValue, Values};
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

/// A page of a list, serialized as `{"data": [...], "page", "limit", "total"}` straight from the
/// rows: no intermediate `serde_json::Value` per row.
pub struct Page {
    resource: &'static Resource,
    rows: Vec<Values>,
    page: u32,
    limit: u32,
    total: i64,
}

struct Row<'a>(&'a Resource, &'a Values);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (res, row) = (self.0, self.1);
        let n = res.fields.len();
        let mut m = s.serialize_map(Some(n + 3))?;
        m.serialize_entry("id", &row[0])?;
        for (f, v) in res.fields.iter().zip(&row[1..]) {
            m.serialize_entry(f.json, v)?;
        }
        m.serialize_entry("createdAt", &row[n + 1])?;
        m.serialize_entry("updatedAt", &row[n + 2])?;
        m.end()
    }
}

struct Rows<'a>(&'a Page);

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let page = self.0;
        s.collect_seq(page.rows.iter().map(|r| Row(page.resource, r)))
    }
}

impl Serialize for Page {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("data", &Rows(self))?;
        m.serialize_entry("page", &self.page)?;
        m.serialize_entry("limit", &self.limit)?;
        m.serialize_entry("total", &self.total)?;
        m.end()
    }
}

/// A resource: a table, its writable fields, and the tables whose rows point at it.
pub struct Resource {
    pub table: &'static str,
    pub singular: &'static str,
    pub fields: &'static [Field],
    /// `(table, column)` pairs that reference this resource: a referenced row is not deleted.
    pub referenced_by: &'static [(&'static str, &'static str)],
}

impl Resource {
    fn columns(&self) -> String {
        let mut cols = vec!["id"];
        cols.extend(self.fields.iter().map(|f| f.column));
        cols.extend(["created_at", "updated_at"]);
        cols.join(", ")
    }

    /// Column types in the order of [`Resource::columns`].
    fn types(&self) -> Vec<ColType> {
        let mut types = vec![ColType::Int];
        types.extend(self.fields.iter().map(|f| match f.kind {
            Kind::Ref(_) => ColType::Int,
            _ => ColType::Text,
        }));
        types.extend([ColType::Time, ColType::Time]);
        types
    }

    fn to_json(&self, row: &Values) -> Value {
        let mut m = Map::with_capacity(self.fields.len() + 3);
        m.insert("id".into(), row[0].to_json());
        for (f, v) in self.fields.iter().zip(&row[1..]) {
            m.insert(f.json.into(), v.to_json());
        }
        let n = self.fields.len();
        m.insert("createdAt".into(), row[n + 1].to_json());
        m.insert("updatedAt".into(), row[n + 2].to_json());
        Value::Object(m)
    }

    /// One page of rows as JSON objects, serialized straight from the rows (see [`Page`]).
    pub async fn page(
        &'static self,
        conn: &mut TenantConnection,
        page: u32,
        limit: u32,
    ) -> Result<Page, ApiError> {
        let (rows, total) = self.rows(conn, page, limit).await?;
        Ok(Page {
            resource: self,
            rows,
            page,
            limit,
            total,
        })
    }

    /// One page and the total, in one statement (`COUNT(*) OVER ()`). An empty first page means an
    /// empty table in that statement's snapshot, so its total is 0 with no second statement; only
    /// a page past the end costs a second, counting statement.
    async fn rows(
        &self,
        conn: &mut TenantConnection,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<Values>, i64), ApiError> {
        let q = format!(
            "SELECT {}, COUNT(*) OVER () FROM {} ORDER BY id LIMIT ? OFFSET ?",
            self.columns(),
            self.table
        );
        let mut types = self.types();
        types.push(ColType::Int);
        let args = [
            SqlValue::Int(i64::from(limit)),
            SqlValue::Int(i64::from(page - 1) * i64::from(limit)),
        ];
        let rows = conn.fetch_all(&q, &args, &types).await?;
        let total = match rows.first() {
            Some(r) => r[types.len() - 1].as_i64().unwrap_or(0),
            None if page == 1 => 0,
            None => {
                conn.fetch_i64(&format!("SELECT COUNT(*) FROM {}", self.table), &[])
                    .await?
            }
        };
        Ok((rows, total))
    }

    pub async fn get(&self, conn: &mut EngineConnection, id: i64) -> Result<Value, ApiError> {
        let q = format!("SELECT {} FROM {} WHERE id = ?", self.columns(), self.table);
        let row = conn
            .fetch_optional(&q, &[SqlValue::Int(id)], &self.types())
            .await?;
        match row {
            Some(r) => Ok(self.to_json(&r)),
            None => Err(ApiError::not_found(
                "not_found",
                format!("{} {id} not found", self.singular),
            )),
        }
    }

    /// Validates `input` (merged over `base` for updates) into values in field order.
    async fn validate(
        &self,
        conn: &mut EngineConnection,
        input: &Value,
        base: Option<&Value>,
    ) -> Result<Vec<SqlValue>, ApiError> {
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
                (Kind::Ref(_), None) => SqlValue::Null(ColType::Int),
                (_, None) => SqlValue::Null(ColType::Text),
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
                    SqlValue::Text(s.to_owned())
                }
                (Kind::OneOf(allowed), Some(v)) => {
                    let s = v.as_str().filter(|s| allowed.contains(s));
                    let s = s.ok_or_else(|| {
                        bad(f.json, &format!("must be one of: {}", allowed.join(", ")))
                    })?;
                    SqlValue::Text(s.to_owned())
                }
                (Kind::Ref(table), Some(v)) => {
                    let id = v
                        .as_i64()
                        .ok_or_else(|| bad(f.json, "must be an integer id"))?;
                    let q = format!("SELECT COUNT(*) FROM {table} WHERE id = ?");
                    let n = conn.fetch_i64(&q, &[SqlValue::Int(id)]).await?;
                    if n == 0 {
                        return Err(bad(f.json, &format!("no row {id} in {table}")));
                    }
                    SqlValue::Int(id)
                }
            };
            out.push(val);
        }
        Ok(out)
    }

    pub async fn create(
        &self,
        conn: &mut EngineConnection,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut vals = self.validate(conn, input, None).await?;
        let cols: Vec<_> = self.fields.iter().map(|f| f.column).collect();
        let marks = vec!["?"; cols.len() + 2].join(", ");
        let q = format!(
            "INSERT INTO {} ({}, created_at, updated_at) VALUES ({marks})",
            self.table,
            cols.join(", ")
        );
        let now = chrono::Utc::now();
        vals.extend([SqlValue::Time(now), SqlValue::Time(now)]);
        let id = conn.insert_returning_id(&q, &vals).await?;
        self.get(conn, id).await
    }

    pub async fn update(
        &self,
        conn: &mut EngineConnection,
        id: i64,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let base = self.get(conn, id).await?;
        let mut vals = self.validate(conn, input, Some(&base)).await?;
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
        vals.extend([SqlValue::Time(chrono::Utc::now()), SqlValue::Int(id)]);
        conn.execute(&q, &vals).await?;
        self.get(conn, id).await
    }

    pub async fn delete(&self, conn: &mut EngineConnection, id: i64) -> Result<(), ApiError> {
        self.get(conn, id).await?;
        for (table, column) in self.referenced_by {
            let q = format!("SELECT COUNT(*) FROM {table} WHERE {column} = ?");
            let n = conn.fetch_i64(&q, &[SqlValue::Int(id)]).await?;
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
        conn.execute(&q, &[SqlValue::Int(id)]).await?;
        Ok(())
    }
}

/// The resource's OpenAPI schemas, built from its field table (so they cannot drift from what
/// [`Resource::create`] accepts and [`Resource::get`] answers).
pub mod schema {
    use super::{Field, Kind, Resource};
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

    /// `Customer` for `customers`.
    pub fn name(r: &Resource) -> String {
        let mut s = r.singular.to_owned();
        s[..1].make_ascii_uppercase();
        s
    }

    fn field(f: &Field, nullable: bool) -> ObjectBuilder {
        let of = |t: Type| match nullable {
            true => SchemaType::from_iter([t, Type::Null]),
            false => SchemaType::new(t),
        };
        match f.kind {
            Kind::Text { max } => ObjectBuilder::new()
                .schema_type(of(Type::String))
                .max_length(Some(max)),
            Kind::OneOf(values) => ObjectBuilder::new()
                .schema_type(of(Type::String))
                .enum_values(Some(values.iter().copied())),
            Kind::Ref(table) => ObjectBuilder::new()
                .schema_type(of(Type::Integer))
                .description(Some(format!("id of a row in {table}"))),
        }
    }

    /// A row as answered: every field (optional ones may be `null`), `id` and timestamps.
    pub fn row(r: &Resource) -> Schema {
        let time = || ObjectBuilder::new().schema_type(Type::String);
        let mut o = ObjectBuilder::new()
            .property("id", ObjectBuilder::new().schema_type(Type::Integer))
            .required("id");
        for f in r.fields {
            o = o.property(f.json, field(f, !f.required)).required(f.json);
        }
        o = o.property("createdAt", time()).required("createdAt");
        o.property("updatedAt", time()).required("updatedAt").into()
    }

    /// A create body (`PUT` takes the same fields, each optional). Fields with a default are
    /// optional.
    pub fn input(r: &Resource) -> Schema {
        let mut o = ObjectBuilder::new();
        for f in r.fields {
            let mut s = field(f, !f.required);
            if let Some(d) = f.default {
                s = s.default(Some(d.into()));
            }
            o = o.property(f.json, s);
            if f.required && f.default.is_none() {
                o = o.required(f.json);
            }
        }
        o.into()
    }
}
