//! `GET /api/openapi.json`: the OpenAPI description of every route, built at compile time from the
//! `#[utoipa::path]` attribute on each handler and `ToSchema` on the types it reads and answers.
//! The e2e test `openapi` compares it with the routes the router really mounts, both ways.
//!
//! What the handlers share lives here: the error body, the sets of error answers, the path and
//! query parameters, and the two bearer schemes (owner and tenant-user tokens).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use std::sync::LazyLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

/// Every error answer: `{"error": {"code": …, "message": …}}` (`tenantry::router::ApiError`).
/// `code` is stable (see the table in the description); `message` names the problem for people.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the body `ApiError` writes; never built here.
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    #[schema(example = "tenant_not_found")]
    code: String,
    #[schema(example = "tenant ACME does not exist")]
    message: String,
}

/// The answers every owner (admin API) route may give besides its own.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum OwnerErrors {
    /// `invalid_input` / `invalid_body`: a parameter or field is malformed (the message names it).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `unauthorized`: no bearer token, a bad or expired one, or not an owner's.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
}

/// The answers of owner routes on one tenant (`{id}` = its UUID or code).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TenantErrors {
    /// `invalid_input`, `invalid_body`, `confirmation_required`, `unknown_server`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `unauthorized`: no owner token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `tenant_not_found`, `not_found`.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `invalid_status` (not allowed in the tenant's status), `conflict`, `database_in_use`,
    /// `job_running`, `in_use`, `incompatible_backup`, `backup_unsupported`.
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// `provisioning_failed`, `drop_failed`, `backup_failed`, `password_change_failed`: the data
    /// server refused or failed.
    #[response(status = 502)]
    BadGateway(ErrorBody),
}

/// The answers every tenant route (`/api/…` behind the tenant layer) may give besides its own.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum TenantRouteErrors {
    /// `invalid_input`, `invalid_body`, `invalid_tenant_code`, `invalid_path`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `unauthorized`: no user token, a bad or expired one, or a disabled user's.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `tenant_suspended`, `tenant_mismatch` (token of another tenant), `forbidden` (role).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `tenant_not_found` (no tenant named, or none by that code), `not_found`.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `tenant_not_ready` (still provisioning), `tenant_database_unavailable`.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// A tenant named in the path: its UUID or its code.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TenantId {
    /// Tenant UUID or code (`ACME`).
    id: String,
}

/// A row or user id in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct RowId {
    /// A positive integer.
    id: i64,
}

/// A user of the tenant named in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct TenantUserPath {
    /// Tenant UUID or code.
    tenant: String,
    /// The user's id.
    id: i64,
}

/// The tenant of a tenant route, when neither the token, the subdomain nor an `X-Tenant` header
/// names it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Company {
    /// Tenant code, e.g. `ACME`.
    company: Option<String>,
}

/// `?page=&limit=` of every paged list: page from 1, limit 1-100 (default 20).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    page: Option<u32>,
    limit: Option<u32>,
}

/// A paged list: `{"data": [...], "page", "limit", "total"}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Page {
    data: Vec<serde_json::Value>,
    page: u32,
    limit: u32,
    total: i64,
}

/// The owner and tenant-user bearer schemes.
struct Security;

impl Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let bearer = |what: &str| {
            let http = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(what))
                .build();
            SecurityScheme::Http(http)
        };
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "owner",
            bearer("An owner's token, from `POST /api/admin/login`."),
        );
        components.add_security_scheme(
            "tenant",
            bearer("A tenant user's token, from `POST /api/auth/login?company=CODE`; routes marked admin need role `admin`."),
        );
    }
}

/// The sample resources (customers, sites, tickets): schemas built from their field tables, set as
/// the bodies of their routes (the handlers take and give `serde_json::Value`).
struct Resources;

impl Modify for Resources {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use super::resource::schema;
        for r in [
            &super::data::CUSTOMERS,
            &super::data::SITES,
            &super::data::TICKETS,
        ] {
            let (name, input) = (schema::name(r), format!("{}Input", schema::name(r)));
            let components = api.components.get_or_insert_with(Default::default);
            components
                .schemas
                .insert(name.clone(), schema::row(r).into());
            components
                .schemas
                .insert(input.clone(), schema::input(r).into());
            let page = ObjectBuilder::new()
                .property(
                    "data",
                    ArrayBuilder::new().items(Ref::from_schema_name(&name)),
                )
                .property("page", ObjectBuilder::new().schema_type(Type::Integer))
                .property("limit", ObjectBuilder::new().schema_type(Type::Integer))
                .property("total", ObjectBuilder::new().schema_type(Type::Integer));
            let (row, input) = (Ref::from_schema_name(&name), Ref::from_schema_name(&input));
            let paths = &mut api.paths.paths;
            if let Some(list) = paths.get_mut(&format!("/api/{}", r.table)) {
                answer(list.get.as_mut(), "200", page.into());
                body(list.post.as_mut(), input.clone().into());
                answer(list.post.as_mut(), "201", row.clone().into());
            }
            if let Some(one) = paths.get_mut(&format!("/api/{}/{{id}}", r.table)) {
                answer(one.get.as_mut(), "200", row.clone().into());
                body(one.put.as_mut(), input.into());
                answer(one.put.as_mut(), "200", row.into());
            }
        }
    }
}

fn answer(op: Option<&mut Operation>, status: &str, schema: RefOr<Schema>) {
    let answer = op.and_then(|op| op.responses.responses.get_mut(status));
    if let Some(RefOr::T(answer)) = answer {
        let json = Content::new(Some(schema)).into();
        answer.content.insert("application/json".into(), json);
    }
}

fn body(op: Option<&mut Operation>, schema: RefOr<Schema>) {
    if let Some(RefOr::T(body)) = op.and_then(|op| op.request_body.as_mut()) {
        let json = Content::new(Some(schema)).into();
        body.content.insert("application/json".into(), json);
    }
}

/// What OpenAPI requires and the attributes leave out: a description on every answer (the
/// status's reason phrase when empty) and operation ids unique in the document (handlers of
/// different modules share names such as `list`): `get_api_admin_tenants_id`.
struct Finish;

impl Modify for Finish {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let mut ids = std::collections::HashSet::new();
        for (path, item) in api.paths.paths.iter_mut() {
            let ops = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let words = path.split(|c: char| !c.is_ascii_alphanumeric());
                let words: Vec<_> = words.filter(|w| !w.is_empty()).collect();
                let id = format!("{method}_{}", words.join("_"));
                let id = (1..).map(|n| match n {
                    1 => id.clone(),
                    n => format!("{id}_{n}"), // `/owner/` besides `/owner`
                });
                op.operation_id = id.into_iter().find(|id| ids.insert(id.clone()));
                for (status, answer) in op.responses.responses.iter_mut() {
                    let code = status.parse().ok();
                    let code = code.and_then(|c| axum::http::StatusCode::from_u16(c).ok());
                    let reason = code.and_then(|c| c.canonical_reason());
                    match (answer, reason) {
                        (RefOr::T(a), Some(reason)) if a.description.is_empty() => {
                            a.description = reason.to_owned()
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

const DESCRIPTION: &str = include_str!("openapi.md");

#[derive(OpenApi)]
#[openapi(
    info(title = "tenantry", description = DESCRIPTION),
    modifiers(&Security, &Resources, &Finish),
    components(schemas(ErrorBody, Page)),
    paths(
        document,
        super::health::live, super::health::tenants, super::observe::scrape,
        super::admin::login, super::auth::login,
        super::admin_tenants::list, super::admin_tenants::plans, super::admin_tenants::show, super::admin_tenants::update,
        super::admin_tenants::delete, super::admin_tenants::suspend,
        super::admin_tenants::reactivate, super::admin_tenants::stats,
        super::admin_tenants::health, super::admin_tenants::audit,
        super::admin_provision::create, super::admin_provision::retry,
        super::admin_credentials::set_password,
        super::admin_backup::download, super::admin_backup::list, super::admin_backup::create,
        super::admin_backup::restore_into,
        super::admin_onboard::check, super::admin_onboard::check_tenant,
        super::admin_servers::servers, super::admin_servers::add_server,
        super::admin_servers::remove_server,
        super::admin_fleet::drift, super::admin_fleet::start, super::admin_fleet::progress,
        super::admin_jobs::list, super::admin_jobs::show,
        super::users::doc::list, super::users::doc::create, super::users::doc::show,
        super::users::doc::update, super::users::doc::disable, super::users::doc::enable,
        super::users::doc::password,
        super::users::doc::admin_list, super::users::doc::admin_create,
        super::users::doc::admin_show, super::users::doc::admin_update,
        super::users::doc::admin_disable, super::users::doc::admin_enable,
        super::users::doc::admin_password,
        super::data::list_customers, super::data::get_customers, super::data::create_customers,
        super::data::update_customers, super::data::delete_customers,
        super::data::list_sites, super::data::get_sites, super::data::create_sites,
        super::data::update_sites, super::data::delete_sites,
        super::data::list_tickets, super::data::get_tickets, super::data::create_tickets,
        super::data::update_tickets, super::data::delete_tickets,
        super::files::list, super::files::download, super::files::upload, super::files::remove,
        super::dashboard::index, super::dashboard::index_slash, super::dashboard::asset,
    ),
    tags(
        (name = "meta", description = "Liveness, metrics, this document."),
        (name = "auth", description = "Sign-in of owners and tenant users."),
        (name = "tenants", description = "Owner: tenant lifecycle, stats, health, audit."),
        (name = "backups", description = "Owner: tenant backups."),
        (name = "servers", description = "Owner: data servers and onboarding checks."),
        (name = "fleet", description = "Owner: schema drift, fleet migration, jobs."),
        (name = "users", description = "Tenant users: by the tenant's admins or by owners."),
        (name = "data", description = "Tenant data: the sample field-service API."),
        (name = "files", description = "Tenant files."),
        (name = "dashboard", description = "The owner dashboard (HTML, JS, CSS)."),
    )
)]
pub struct ApiDoc;

/// The document, serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 JSON", content_type = "application/json")))]
pub async fn document() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}
