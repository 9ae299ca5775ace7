//! The fleet of `bench scale`, registered in bulk: PostgreSQL tenants as schemas in a few shared
//! databases (one connection per database creates and migrates its schemas one after another),
//! SQLite tenants as copies of one migrated template file, and registry rows written straight
//! through the library. Tokens are signed directly (no 10,000 logins).

use super::load::Target;
use super::scale::ScaleOptions;
use super::{progress_bar, BenchServer, ScratchDir};
use anyhow::Context;
use futures::future::try_join_all;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, Executor};

use std::time::Duration;
use tenantry::auth::{Claims, TokenKind};
use tenantry::db::EngineConnection;
use tenantry::platform::Platform;
use tenantry::registry::{DataServer, NewTenant, PoolSettings};
use tenantry::tenant::{DatabaseName, Placement, TenantCode, TenantStatus};
use tenantry::users::{statements, FullName, Role, Username};
use tenantry_sqlite_wal::companion_files;
use uuid::Uuid;

const PASSWORD: &str = "bench-password";

#[derive(Clone)]
pub struct ScaleTenant {
    pub id: Uuid,
    pub target: Target,
}

pub struct Fleet {
    /// In rank order for the Zipf draw (PostgreSQL and SQLite tenants interleaved).
    pub tenants: Vec<ScaleTenant>,
    /// How many are on PostgreSQL.
    pub pg: usize,
}

/// Where tenant `i` lives.
enum Home {
    /// Schema `t{i}` in shared database `scale_shared_{d}`.
    Pg {
        database: DatabaseName,
        schema: DatabaseName,
    },
    Sqlite {
        database: DatabaseName,
    },
}

pub async fn register(
    platform: &Platform,
    pg: &BenchServer,
    scratch: &ScratchDir,
    o: &ScaleOptions,
) -> anyhow::Result<Fleet> {
    let registry = platform.registry();
    let pg_server = pg.register(registry).await?;
    let sqlite_dir = scratch.path().join("sqlite");
    std::fs::create_dir_all(&sqlite_dir)?;
    let sqlite_server = BenchServer::sqlite(&sqlite_dir).register(registry).await?;
    let hash = tokio::task::spawn_blocking(|| tenantry::auth::hash_password(PASSWORD)).await?;
    let n_pg = ((o.tenants as f64) * o.pg_share).round() as usize;
    let databases = o.databases.clamp(1, n_pg.max(1));
    // Tenant i: PostgreSQL when i % 2 == 0 while PostgreSQL tenants remain (so ranks mix engines).
    let homes: Vec<Home> = {
        let (mut pg_left, mut homes) = (n_pg, Vec::with_capacity(o.tenants));
        for i in 0..o.tenants {
            let on_pg = pg_left > 0 && (i % 2 == 0 || o.tenants - i <= pg_left);
            homes.push(if on_pg {
                pg_left -= 1;
                Home::Pg {
                    database: DatabaseName::parse(&format!("scale_shared_{}", i % databases))?,
                    schema: DatabaseName::parse(&format!("t{i:05}"))?,
                }
            } else {
                Home::Sqlite {
                    database: DatabaseName::parse(&format!("scale_{i:05}"))?,
                }
            });
        }
        homes
    };
    eprintln!("bench scale: creating {n_pg} PostgreSQL schemas in {databases} databases…");
    create_schemas(pg, &homes, databases, &hash).await?;
    eprintln!("bench scale: copying {} SQLite files…", o.tenants - n_pg);
    copy_sqlite_files(&sqlite_dir, &homes, &hash).await?;
    eprintln!("bench scale: registering {} tenants…", o.tenants);
    let bar = progress_bar(o.tenants, "register");
    let mut tenants = Vec::with_capacity(o.tenants);
    let password_version = tenantry::users::password_version(&hash);
    for (i, home) in homes.iter().enumerate() {
        let code = TenantCode::parse(&format!("SCALE{i:05}"))?;
        let (server, placement, database, schema) = match home {
            Home::Pg { database, schema } => (
                &pg_server,
                Placement::Shared,
                database.clone(),
                Some(schema.clone()),
            ),
            Home::Sqlite { database } => {
                (&sqlite_server, Placement::Dedicated, database.clone(), None)
            }
        };
        let tenant = registry
            .create_tenant(new_tenant(&code, server, placement, database, schema))
            .await
            .with_context(|| format!("cannot register {code}"))?;
        // Its schema's mirror, as provisioning records it (every tenant here is migrated to this
        // binary's latest version).
        let version = tenantry::migrate::latest_version(tenant.engine);
        let checksum = tenantry::migrate::fingerprint(tenant.engine, version);
        registry
            .set_schema_state(&code, version, Some(&checksum))
            .await?;
        let (token, _) = platform.signer().issue(Claims {
            sub: "1".into(),
            kind: TokenKind::Tenant,
            tid: Some(tenant.id),
            tenant: Some(code.to_string()),
            name: "admin".into(),
            role: "admin".into(),
            pwv: Some(password_version.clone()),
            iat: 0,
            exp: 0,
        });
        let path = "/api/tickets?page=1&limit=20".to_owned();
        tenants.push(ScaleTenant {
            id: tenant.id,
            target: Target { path, token },
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Fleet { tenants, pg: n_pg })
}

fn new_tenant(
    code: &TenantCode,
    server: &DataServer,
    placement: Placement,
    database: DatabaseName,
    schema: Option<DatabaseName>,
) -> NewTenant {
    NewTenant {
        code: code.clone(),
        name: format!("Scale tenant {code}"),
        subdomain: None,
        domains: Vec::new(),
        placement,
        server_id: server.id,
        database: Some(database),
        schema,
        username: server.admin_username.clone(),
        password: None,
        status: TenantStatus::Active,
        region: None,
        pool: PoolSettings::default(),
        plan: "standard".into(),
        notes: None,
    }
}

fn pg_options(pg: &BenchServer, database: &str) -> PgConnectOptions {
    let mut options = PgConnectOptions::new_without_pgpass()
        .host(&pg.host)
        .port(pg.port.unwrap_or(5432))
        .database(database);
    if let Some(user) = &pg.admin_user {
        options = options.username(user);
    }
    options
}

/// Creates the shared databases, then their schemas, one connection per database in parallel:
/// `CREATE SCHEMA`, point `search_path` at it, run the tenant migrations, add the admin user.
async fn create_schemas(
    pg: &BenchServer,
    homes: &[Home],
    databases: usize,
    hash: &str,
) -> anyhow::Result<()> {
    let total = homes
        .iter()
        .filter(|h| matches!(h, Home::Pg { .. }))
        .count();
    if total == 0 {
        return Ok(());
    }
    let mut admin = PgConnection::connect_with(&pg_options(pg, "postgres")).await?;
    for d in 0..databases {
        admin
            .execute(format!("CREATE DATABASE scale_shared_{d}").as_str())
            .await?;
    }
    admin.close().await?;
    let bar = progress_bar(total, "schemas");
    try_join_all((0..databases).map(|d| {
        let bar = bar.clone();
        async move {
            let name = format!("scale_shared_{d}");
            let conn = PgConnection::connect_with(&pg_options(pg, &name)).await?;
            let mut conn = EngineConnection::Postgres(conn);
            for home in homes {
                let Home::Pg { database, schema } = home else {
                    continue;
                };
                if database.as_str() != name {
                    continue;
                }
                conn.execute_raw(&format!(
                    "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\""
                ))
                .await?;
                seed_tenant(&mut conn, hash).await?;
                bar.inc(1);
            }
            // A fleet at rest: its tables analyzed and their rows' hint bits set, as autovacuum
            // leaves a database some minutes after its schemas were made. Otherwise autovacuum
            // works through thousands of fresh tables during the timed passes, and each ANALYZE
            // sends every backend catalog invalidations (their caches rebuilt, plans redone).
            conn.execute_raw("VACUUM (ANALYZE)").await?;
            conn.close().await?;
            anyhow::Ok(())
        }
    }))
    .await?;
    bar.finish_and_clear();
    Ok(())
}

/// Migrates a fresh tenant database and adds its admin user (id 1).
async fn seed_tenant(conn: &mut EngineConnection, hash: &str) -> anyhow::Result<()> {
    tenantry::migrate::migrate_tenant(conn).await?;
    let id = statements::insert(
        conn,
        &Username::parse("admin")?,
        &FullName::parse("Admin")?,
        Role::Admin,
        hash.to_owned(),
    )
    .await?;
    anyhow::ensure!(id == 1, "the admin user got id {id}, expected 1");
    Ok(())
}

/// Migrates one template file and copies it for every SQLite tenant, as provisioning leaves a
/// tenant's file: in WAL mode, so a tenant's first open does not convert it (a rollback journal,
/// fsyncs) inside the measured requests, and with its `-wal` (empty) and `-shm` files kept, as
/// provisioning's tenant connection keeps them (see `tenantry-sqlite-wal`), so the first open does
/// not create two files either.
async fn copy_sqlite_files(
    dir: &std::path::Path,
    homes: &[Home],
    hash: &str,
) -> anyhow::Result<()> {
    let template = dir.join("template.sqlite");
    let mut conn = SqliteConnectOptions::new()
        .filename(&template)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // With the persistent WAL, a close truncates the WAL to zero bytes (as on tenant
        // connections) instead of leaving the seed's pages in it.
        .pragma("journal_size_limit", "0")
        .connect()
        .await?;
    tenantry_sqlite_wal::persist_wal(&mut conn).await?;
    let mut conn = EngineConnection::Sqlite(conn);
    seed_tenant(&mut conn, hash).await?;
    conn.close().await?;
    let files: Vec<_> = homes
        .iter()
        .filter_map(|h| match h {
            Home::Sqlite { database } => Some(dir.join(format!("{database}.db"))),
            Home::Pg { .. } => None,
        })
        .collect();
    tokio::task::spawn_blocking(move || {
        let [template_wal, template_shm] = companion_files(&template);
        for f in files {
            let [wal, shm] = companion_files(&f);
            for (from, to) in [
                (&template, &f),
                (&template_wal, &wal),
                (&template_shm, &shm),
            ] {
                std::fs::copy(from, to).with_context(|| {
                    format!("cannot copy {} to {}", from.display(), to.display())
                })?;
            }
        }
        anyhow::Ok(())
    })
    .await?
}

/// Samples PostgreSQL's client connections (its own excluded) until stopped; keeps the peak.
pub struct PgSampler {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<i64>,
}

impl PgSampler {
    pub async fn start(pg: &BenchServer) -> anyhow::Result<Self> {
        let mut conn = PgConnection::connect_with(&pg_options(pg, "postgres")).await?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut peak = 0_i64;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {
                        let n: Result<i64, _> = sqlx::query_scalar(
                            "SELECT count(*) FROM pg_stat_activity \
                             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                        )
                        .fetch_one(&mut conn)
                        .await;
                        peak = peak.max(n.unwrap_or(0));
                    }
                }
            }
            let _ = conn.close().await;
            peak
        });
        Ok(Self { stop, task })
    }

    pub async fn stop(self) -> i64 {
        let _ = self.stop.send(());
        self.task.await.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn sqlite_tenant_copies_keep_an_empty_wal_and_the_shm_as_provisioning_leaves_them() {
        let dir = tempfile::tempdir().unwrap();
        let homes: Vec<Home> = ["s1", "s2"]
            .iter()
            .map(|d| Home::Sqlite {
                database: DatabaseName::parse(d).unwrap(),
            })
            .collect();
        copy_sqlite_files(dir.path(), &homes, "not-a-real-hash")
            .await
            .unwrap();
        for d in ["s1", "s2"] {
            let db = dir.path().join(format!("{d}.db"));
            let [wal, shm] = companion_files(&db);
            let len = |p: &std::path::Path| std::fs::metadata(p).unwrap().len();
            assert_eq!(len(&wal), 0, "{d}: the WAL is kept, empty");
            assert!(len(&shm) > 0, "{d}: the shared-memory file is kept");
            // The copy is a migrated tenant database with its admin user.
            let mut conn = SqliteConnectOptions::new()
                .filename(&db)
                .connect()
                .await
                .unwrap();
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(users, 1, "{d}");
            conn.close().await.unwrap();
        }
    }
}
