//! `tenantry demo`: an embedded registry with five SQLite tenants on three "servers" (directories),
//! seeded with distinct field-service data. Idempotent: a second run reuses the data directory.

use crate::app::App;
use crate::config::Config;
use crate::http::data::{CUSTOMERS, SITES, TICKETS};
use anyhow::Context;
use secrecy::SecretString;
use serde_json::json;
use std::path::Path;
use tenantry::platform::{Actor, ProvisionRequest, ServerRef, TenantRef};
use tenantry::provision::{ensure_user, ServerAdmin};
use tenantry::registry::NewServer;
use tenantry::secrets::{MasterKey, SecretBox};
use tenantry::tenant::{
    DatabaseName, Engine, Hosting, Placement, ServerName, Subdomain, TenantCode, TenantStatus,
    TlsMode,
};

pub const DEMO_PASSWORD: &str = "tenantry-demo";
pub const OWNER_EMAIL: &str = "owner@tenantry.local";
const PRIORITIES: [&str; 3] = ["low", "normal", "high"];

/// (code, name, server, city, customers)
const TENANTS: &[(&str, &str, &str, &str, &[&str])] = &[
    (
        "DCPSP",
        "DCP Security Patrol",
        "ours",
        "Rotterdam",
        &["Harbor Authority", "Maas Warehousing", "Erasmus Clinic"],
    ),
    (
        "DEMO",
        "Demo Facilities",
        "ours",
        "Utrecht",
        &["Demo Bakery", "Demo Library"],
    ),
    (
        "ACME",
        "Acme Field Services",
        "customer-a",
        "Springfield",
        &[
            "Road Runner Ltd",
            "Coyote Supplies",
            "Desert Motel",
            "Canyon Bank",
        ],
    ),
    (
        "TECHSTART",
        "TechStart Installations",
        "customer-b",
        "Eindhoven",
        &["Startup Hub", "Photon Labs"],
    ),
    (
        "GLOBALSEC",
        "GlobalSec Monitoring",
        "customer-b",
        "Antwerp",
        &["Diamond Exchange", "Port Terminal 7", "City Museum"],
    ),
];

/// Loads the master key, creating the key file on first run.
pub fn demo_key(config: &Config) -> anyhow::Result<SecretBox> {
    if std::env::var("TENANTRY_MASTER_KEY").is_err() && !config.master_key_file().exists() {
        MasterKey::create_file(&config.master_key_file())?;
    }
    crate::startup::load_master_key(config)
}

/// Opens (creating on first run) the demo registry and tenants, and returns the app.
pub async fn prepare(config: &Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let app = App::open(config, demo_key(config)?).await?;
    let platform = app.platform();
    if platform.owner_count().await? == 0 {
        let password = SecretString::from(DEMO_PASSWORD);
        platform
            .init_owner(&Actor::System, OWNER_EMAIL, "Platform Owner", &password)
            .await?;
    }
    for (name, hosting) in [
        ("ours", Hosting::Ours),
        ("customer-a", Hosting::Customer),
        ("customer-b", Hosting::Customer),
    ] {
        let name = ServerName::parse(name)?;
        if platform
            .server(&ServerRef::Name(name.clone()))
            .await
            .is_err()
        {
            let dir = config.data_dir.join("servers").join(name.as_str());
            platform
                .add_server(
                    &Actor::System,
                    NewServer {
                        name,
                        engine: Engine::Sqlite,
                        host: absolute(&dir)?,
                        port: None,
                        hosting,
                        region: Some("eu-west".into()),
                        tls: TlsMode::Disable,
                        admin_username: None,
                        admin_password: None,
                    },
                )
                .await?;
        }
    }
    for (i, &(code, name, server, city, customers)) in TENANTS.iter().enumerate() {
        seed_tenant(&app, i, code, name, server, city, customers).await?;
    }
    Ok(app)
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(p)?;
    Ok(std::fs::canonicalize(p)?.display().to_string())
}

async fn seed_tenant(
    app: &App,
    index: usize,
    code: &str,
    name: &str,
    server: &str,
    city: &str,
    customers: &[&str],
) -> anyhow::Result<()> {
    let platform = app.platform();
    let code = TenantCode::parse(code)?;
    let password = || Some(SecretString::from(DEMO_PASSWORD));
    match platform.tenant(&TenantRef::Code(code.clone())).await {
        Ok(t) if t.status == TenantStatus::Active => return Ok(()),
        Ok(_) => {
            let r = TenantRef::Code(code.clone());
            platform
                .retry(&Actor::System, &r, password(), true)
                .await?
                .wait(|_| {})
                .await?;
        }
        Err(_) => {
            let server = ServerRef::Name(ServerName::parse(server)?);
            let server = platform.server(&server).await?;
            let placement = if server.hosting == Hosting::Ours {
                Placement::Dedicated
            } else {
                Placement::External
            };
            let database = DatabaseName::for_tenant(&code, uuid::Uuid::new_v4());
            if placement == Placement::External {
                // Stands in for the customer's own database, which they would have created.
                ServerAdmin {
                    server: &server,
                    password: None,
                }
                .create_database(&database)
                .await?;
            }
            let mut req = ProvisionRequest::new(code.clone(), name, placement);
            req.database = Some(database);
            req.subdomain = Some(Subdomain::parse(code.as_str())?);
            req.server = Some(ServerRef::Id(server.id));
            req.admin_password = password();
            req.migrate_external = true;
            req.plan = if index.is_multiple_of(2) {
                "standard"
            } else {
                "premium"
            }
            .into();
            req.notes = Some("demo tenant".into());
            platform
                .provision(&Actor::System, req)
                .await?
                .wait(|_| {})
                .await?;
        }
    }
    seed_business_data(app, &code, city, customers).await
}

async fn seed_business_data(
    app: &App,
    code: &TenantCode,
    city: &str,
    customers: &[&str],
) -> anyhow::Result<()> {
    let config = app
        .registry()
        .tenant_config(code)
        .await?
        .context("tenant vanished")?;
    let mut conn = app.pools().acquire(&config).await?;
    let tech = format!("{}-tech", code.as_str().to_ascii_lowercase());
    ensure_user(
        &mut conn,
        &tech,
        &format!("{} Technician", config.tenant.name),
        "technician",
        DEMO_PASSWORD,
    )
    .await?;
    let err = |e: tenantry::router::ApiError| anyhow::anyhow!("seeding {code}: {e}");
    for (i, customer) in customers.iter().enumerate() {
        let c = CUSTOMERS
            .create(&mut conn, &json!({"name": customer, "email": format!("info@{}.example", customer.to_lowercase().replace(' ', "-")), "address": format!("{} Main Street, {city}", i + 1)}))
            .await
            .map_err(err)?;
        let s = SITES
            .create(
                &mut conn,
                &json!({"customerId": c["id"], "name": format!("{customer} HQ"), "city": city}),
            )
            .await
            .map_err(err)?;
        TICKETS
            .create(&mut conn, &json!({"siteId": s["id"], "title": format!("Inspect alarm panel at {customer}"), "priority": PRIORITIES[i % 3]}))
            .await
            .map_err(err)?;
    }
    Ok(())
}
