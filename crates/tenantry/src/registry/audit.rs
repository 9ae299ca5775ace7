//! The audit log: who did what to which tenant, with what result. Details never hold secrets: callers
//! pass already-masked values.

use super::{Registry, Result};
use crate::db;
use serde::Serialize;
use sqlx::Row;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub tenant_id: Option<String>,
    pub detail: serde_json::Value,
    pub result: String,
}

impl Registry {
    /// Appends one audit row. Only the platform writes them (`platform::audit`), so every row has
    /// a typed actor and action.
    pub(crate) async fn audit(
        &self,
        actor: &str,
        action: &str,
        tenant_id: Option<Uuid>,
        detail: serde_json::Value,
        result: &str,
    ) -> Result<()> {
        sqlx::query(&self.sql(
            "INSERT INTO audit_log (at, actor, action, tenant_id, detail, result) VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(db::now())
        .bind(actor)
        .bind(action)
        .bind(tenant_id.map(|t| t.to_string()))
        .bind(detail.to_string())
        .bind(result)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Newest first; optionally only one tenant's rows.
    pub async fn list_audit(
        &self,
        tenant_id: Option<Uuid>,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let limit = limit.clamp(1, 500);
        let offset = i64::from(page.max(1) - 1) * i64::from(limit);
        let cond = if tenant_id.is_some() {
            " WHERE tenant_id = ?"
        } else {
            ""
        };
        let count_q = format!("SELECT COUNT(*) FROM audit_log{cond}");
        let list_q = format!(
            "SELECT id, at, actor, action, tenant_id, detail, result FROM audit_log{cond} ORDER BY id DESC LIMIT ? OFFSET ?"
        );
        let (count_q, list_q) = (self.sql(&count_q), self.sql(&list_q));
        let mut count = sqlx::query_scalar::<_, i64>(&count_q);
        let mut list = sqlx::query(&list_q);
        if let Some(t) = tenant_id {
            count = count.bind(t.to_string());
            list = list.bind(t.to_string());
        }
        let total = count.fetch_one(self.pool()).await?;
        let rows = list
            .bind(i64::from(limit))
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let entries = rows
            .iter()
            .map(|r| {
                let detail: Option<String> = r.try_get("detail")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    tenant_id: r.try_get("tenant_id")?,
                    detail: detail
                        .and_then(|d| serde_json::from_str(&d).ok())
                        .unwrap_or(serde_json::Value::Null),
                    result: r.try_get("result")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((entries, total))
    }
}
