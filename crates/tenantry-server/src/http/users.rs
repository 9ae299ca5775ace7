//! Tenant users, managed by a tenant's admins (`/api/users…`, behind the tenant layer: their own
//! tenant only, by construction) and by owners (`/api/admin/tenants/{tenant}/users…`). Both sides
//! are the same handlers over one platform call each; only who the caller is differs.

use super::data::{parse_id, Paging};
use super::{HttpError, JsonBody, OwnerAuth};
use crate::app::App;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use tenantry::platform::{Actor, NewUser, TenantRef, UserUpdate};
use tenantry::router::{ApiError, TenantAdmin};
use tenantry::users::{FullName, Role, User, Username};

/// Routes of tenant admins (merged behind the tenant layer).
pub fn routes() -> Router<App> {
    side::<ByTenantAdmin>("/api/users")
}

/// Routes of owners (admin API).
pub fn admin_routes() -> Router<App> {
    side::<ByOwner>("/api/admin/tenants/{tenant}/users")
}

fn side<W: Who>(base: &str) -> Router<App> {
    Router::new()
        .route(base, get(list::<W>).post(create::<W>))
        .route(&format!("{base}/{{id}}"), get(show::<W>).put(update::<W>))
        .route(&format!("{base}/{{id}}/disable"), post(disable::<W>))
        .route(&format!("{base}/{{id}}/enable"), post(enable::<W>))
        .route(&format!("{base}/{{id}}/password"), post(password::<W>))
}

/// Who manages users, of which tenant, and which user the path names.
pub struct Caller<W> {
    actor: Actor,
    tenant: TenantRef,
    user: Option<i64>,
    _who: PhantomData<W>,
}

impl<W> Caller<W> {
    fn user(&self) -> i64 {
        self.user.expect("routes with {id} only")
    }
}

/// A tenant admin: their own tenant, whatever the request says.
pub struct ByTenantAdmin;
/// An owner: the tenant named in the path.
pub struct ByOwner;

pub trait Who: Send + Sync + 'static {
    fn who(
        parts: &mut Parts,
        app: &App,
    ) -> impl Future<Output = Result<(Actor, TenantRef), ApiError>> + Send;
}

impl Who for ByTenantAdmin {
    async fn who(parts: &mut Parts, app: &App) -> Result<(Actor, TenantRef), ApiError> {
        let admin = TenantAdmin::from_request_parts(parts, app).await?;
        Ok((admin.actor(), admin.tenant_ref()))
    }
}

impl Who for ByOwner {
    async fn who(parts: &mut Parts, app: &App) -> Result<(Actor, TenantRef), ApiError> {
        let owner = OwnerAuth::from_request_parts(parts, app).await?;
        let params = path_params(parts, app).await?;
        let raw = params.get("tenant").map(String::as_str).unwrap_or_default();
        let tenant = TenantRef::parse(raw)
            .map_err(|e| ApiError::bad_request("invalid_input", e.to_string()))?;
        Ok((owner.actor().clone(), tenant))
    }
}

async fn path_params(parts: &mut Parts, app: &App) -> Result<HashMap<String, String>, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map_err(|e| ApiError::bad_request("invalid_input", e.body_text()))?;
    Ok(params)
}

impl<W: Who> FromRequestParts<App> for Caller<W> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let (actor, tenant) = W::who(parts, app).await?;
        let params = path_params(parts, app).await?;
        let user = params.get("id").map(|raw| parse_id(raw)).transpose()?;
        Ok(Caller {
            actor,
            tenant,
            user,
            _who: PhantomData,
        })
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    username: String,
    full_name: String,
    /// Default: `user`.
    role: Option<String>,
    password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateBody {
    full_name: Option<String>,
    role: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    password: String,
}

async fn list<W: Who>(
    State(app): State<App>,
    c: Caller<W>,
    Query(p): Query<Paging>,
) -> Result<Json<Value>, HttpError> {
    let (page, limit) = p.parse()?;
    let listed = app.platform().list_users(&c.actor, &c.tenant, page, limit);
    let (data, total) = listed.await?;
    Ok(Json(
        json!({"data": data, "page": page, "limit": limit, "total": total}),
    ))
}

async fn show<W: Who>(State(app): State<App>, c: Caller<W>) -> Result<Json<User>, HttpError> {
    let user = app.platform().user(&c.actor, &c.tenant, c.user());
    Ok(Json(user.await?))
}

async fn create<W: Who>(
    State(app): State<App>,
    c: Caller<W>,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<(StatusCode, Json<User>), HttpError> {
    let new = NewUser {
        username: Username::parse(&b.username)?,
        full_name: FullName::parse(&b.full_name)?,
        role: b.role.as_deref().unwrap_or("user").parse::<Role>()?,
        password: b.password.into(),
    };
    let created = app.platform().create_user(&c.actor, &c.tenant, new);
    Ok((StatusCode::CREATED, Json(created.await?)))
}

async fn update<W: Who>(
    State(app): State<App>,
    c: Caller<W>,
    JsonBody(b): JsonBody<UpdateBody>,
) -> Result<Json<User>, HttpError> {
    let change = UserUpdate {
        full_name: b.full_name.as_deref().map(FullName::parse).transpose()?,
        role: b.role.as_deref().map(str::parse::<Role>).transpose()?,
    };
    let updated = app
        .platform()
        .update_user(&c.actor, &c.tenant, c.user(), change);
    Ok(Json(updated.await?))
}

async fn disable<W: Who>(State(app): State<App>, c: Caller<W>) -> Result<Json<User>, HttpError> {
    let done = app
        .platform()
        .set_user_disabled(&c.actor, &c.tenant, c.user(), true);
    Ok(Json(done.await?))
}

async fn enable<W: Who>(State(app): State<App>, c: Caller<W>) -> Result<Json<User>, HttpError> {
    let done = app
        .platform()
        .set_user_disabled(&c.actor, &c.tenant, c.user(), false);
    Ok(Json(done.await?))
}

async fn password<W: Who>(
    State(app): State<App>,
    c: Caller<W>,
    JsonBody(b): JsonBody<PasswordBody>,
) -> Result<Json<User>, HttpError> {
    let password = b.password.into();
    let done = app
        .platform()
        .reset_user_password(&c.actor, &c.tenant, c.user(), &password);
    Ok(Json(done.await?))
}

/// The OpenAPI description of both sides: the handlers are generic over who calls, so each route
/// is described by an item of its own here (the e2e test `openapi` checks them against the router).
pub(super) mod doc {
    #![allow(dead_code)]
    use super::{CreateBody, PasswordBody, UpdateBody};
    use crate::http::openapi::{
        Company, ErrorBody, Page, Paging, RowId, TenantErrors, TenantRouteErrors, TenantUserPath,
    };
    use tenantry::users::User;

    /// List users (paged).
    #[utoipa::path(get, path = "/api/users", tag = "users", security(("tenant" = [])), params(Company, Paging),
        responses((status = 200, body = Page, description = "`data`: users"), TenantRouteErrors))]
    pub fn list() {}
    /// Create a user.
    #[utoipa::path(post, path = "/api/users", tag = "users", security(("tenant" = [])), params(Company), request_body = CreateBody,
        responses((status = 201, body = User), (status = 409, body = ErrorBody, description = "`conflict`: username taken"), TenantRouteErrors))]
    pub fn create() {}
    /// One user.
    #[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("tenant" = [])), params(RowId, Company),
        responses((status = 200, body = User), TenantRouteErrors))]
    pub fn show() {}
    /// Change name or role.
    #[utoipa::path(put, path = "/api/users/{id}", tag = "users", security(("tenant" = [])), params(RowId, Company), request_body = UpdateBody,
        responses((status = 200, body = User), (status = 409, body = ErrorBody, description = "`last_admin`"), TenantRouteErrors))]
    pub fn update() {}
    /// Disable: the user's tokens stop working.
    #[utoipa::path(post, path = "/api/users/{id}/disable", tag = "users", security(("tenant" = [])), params(RowId, Company),
        responses((status = 200, body = User), (status = 409, body = ErrorBody, description = "`last_admin`"), TenantRouteErrors))]
    pub fn disable() {}
    /// Enable again.
    #[utoipa::path(post, path = "/api/users/{id}/enable", tag = "users", security(("tenant" = [])), params(RowId, Company),
        responses((status = 200, body = User), TenantRouteErrors))]
    pub fn enable() {}
    /// Reset the password.
    #[utoipa::path(post, path = "/api/users/{id}/password", tag = "users", security(("tenant" = [])), params(RowId, Company), request_body = PasswordBody,
        responses((status = 200, body = User), TenantRouteErrors))]
    pub fn password() {}
    /// List users (paged).
    #[utoipa::path(get, path = "/api/admin/tenants/{tenant}/users", tag = "users", security(("owner" = [])), params(("tenant" = String, Path, description = "tenant UUID or code"), Paging),
        responses((status = 200, body = Page, description = "`data`: users"), TenantErrors))]
    pub fn admin_list() {}
    /// Create a user.
    #[utoipa::path(post, path = "/api/admin/tenants/{tenant}/users", tag = "users", security(("owner" = [])), params(("tenant" = String, Path, description = "tenant UUID or code")), request_body = CreateBody,
        responses((status = 201, body = User), (status = 409, body = ErrorBody, description = "`conflict`: username taken"), TenantErrors))]
    pub fn admin_create() {}
    /// One user.
    #[utoipa::path(get, path = "/api/admin/tenants/{tenant}/users/{id}", tag = "users", security(("owner" = [])), params(TenantUserPath),
        responses((status = 200, body = User), TenantErrors))]
    pub fn admin_show() {}
    /// Change name or role.
    #[utoipa::path(put, path = "/api/admin/tenants/{tenant}/users/{id}", tag = "users", security(("owner" = [])), params(TenantUserPath), request_body = UpdateBody,
        responses((status = 200, body = User), (status = 409, body = ErrorBody, description = "`last_admin`"), TenantErrors))]
    pub fn admin_update() {}
    /// Disable: the user's tokens stop working.
    #[utoipa::path(post, path = "/api/admin/tenants/{tenant}/users/{id}/disable", tag = "users", security(("owner" = [])), params(TenantUserPath),
        responses((status = 200, body = User), (status = 409, body = ErrorBody, description = "`last_admin`"), TenantErrors))]
    pub fn admin_disable() {}
    /// Enable again.
    #[utoipa::path(post, path = "/api/admin/tenants/{tenant}/users/{id}/enable", tag = "users", security(("owner" = [])), params(TenantUserPath),
        responses((status = 200, body = User), TenantErrors))]
    pub fn admin_enable() {}
    /// Reset the password.
    #[utoipa::path(post, path = "/api/admin/tenants/{tenant}/users/{id}/password", tag = "users", security(("owner" = [])), params(TenantUserPath), request_body = PasswordBody,
        responses((status = 200, body = User), TenantErrors))]
    pub fn admin_password() {}
}
