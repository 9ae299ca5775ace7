//! Plans: named request limits (the `plans` table, seeded by registry migration 0004) that
//! tenants refer to by their `plan` column.

use super::{Registry, Result};
use crate::limits::RateLimit;
use crate::tenant::InvalidValue;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One plan of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub name: String,
    pub rate_limit: RateLimit,
    pub description: Option<String>,
}

fn plan_from_row(row: &AnyRow) -> Result<Plan> {
    let n = |c: &str| {
        row.try_get::<i64, _>(c)
            .map(|v| v.clamp(1, 1_000_000) as u32)
    };
    Ok(Plan {
        name: row.try_get("name")?,
        rate_limit: RateLimit {
            requests_per_second: n("requests_per_second")?,
            burst: n("burst")?,
        },
        description: row.try_get("description")?,
    })
}

const PLAN_SELECT: &str = "SELECT name, requests_per_second, burst, description FROM plans";

impl Registry {
    /// Every plan, by name.
    pub async fn plans(&self) -> Result<Vec<Plan>> {
        let rows = sqlx::query(&format!("{PLAN_SELECT} ORDER BY name"))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(plan_from_row).collect()
    }

    /// The plan named `name`; an unknown name is invalid input for the field `plan` (naming the
    /// plans there are).
    pub async fn plan(&self, name: &str) -> Result<Plan> {
        let q = format!("{PLAN_SELECT} WHERE name = ?");
        let found = sqlx::query(&self.sql(&q))
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        match found {
            Some(row) => plan_from_row(&row),
            None => {
                let names: Vec<String> = self.plans().await?.into_iter().map(|p| p.name).collect();
                let why = format!("no plan named {name:?} (plans: {})", names.join(", "));
                Err(InvalidValue::new("plan", why).into())
            }
        }
    }
}
