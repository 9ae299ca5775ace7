//! Data servers: registering, listing, finding and removing them.

use super::{Actor, AuditAction, Platform, PlatformError, ServerRef};
use crate::registry::{DataServer, NewServer, RegistryError};
use serde_json::json;

impl Platform {
    pub async fn list_servers(&self) -> Result<Vec<DataServer>, PlatformError> {
        Ok(self.registry().list_servers().await?)
    }

    /// The server named by `r`; `NotFound` names it as it was asked for.
    pub async fn server(&self, r: &ServerRef) -> Result<DataServer, PlatformError> {
        let found = match r {
            ServerRef::Id(id) => self.registry().server(*id).await,
            ServerRef::Name(name) => self.registry().server_by_name(name).await,
        };
        found.map_err(|e| match e {
            RegistryError::NotFound(_) => PlatformError::NotFound {
                kind: "server",
                name: r.to_string(),
            },
            other => other.into(),
        })
    }

    /// Registers a data server (host checked; admin password stored encrypted, never returned).
    #[tracing::instrument(skip_all, fields(name = %new.name))]
    pub async fn add_server(
        &self,
        actor: &Actor,
        new: NewServer,
    ) -> Result<DataServer, PlatformError> {
        let mut detail = json!({"after": {"name": new.name, "engine": new.engine, "host": new.host,
            "port": new.port, "hosting": new.hosting,
            "adminPassword": new.admin_password.as_ref().map(|_| "***")}});
        let done = self
            .registry()
            .add_server(new)
            .await
            .map_err(PlatformError::from);
        if let Ok(s) = &done {
            detail["after"]["host"] = json!(s.host);
            detail["after"]["port"] = json!(s.port);
        }
        self.audited(actor, AuditAction::ServerAdd, None, detail, done)
            .await
    }

    /// Removes a server that holds no tenant (tombstones included: they record where data lived).
    #[tracing::instrument(skip(self))]
    pub async fn remove_server(&self, actor: &Actor, r: &ServerRef) -> Result<(), PlatformError> {
        let detail = json!({"before": {"name": r.to_string()}});
        let done = async {
            let server = self.server(r).await?;
            self.registry()
                .remove_server(server.id)
                .await
                .map_err(|e| match e {
                    RegistryError::Conflict(_) => PlatformError::InUse {
                        what: format!("server {}", server.name),
                        reason:
                            "it holds tenants (tombstones included: they record where data lived)"
                                .into(),
                    },
                    other => other.into(),
                })
        }
        .await;
        self.audited(actor, AuditAction::ServerRemove, None, detail, done)
            .await
    }
}
