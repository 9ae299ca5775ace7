//! The field-service sample API, per tenant: customers, sites, tickets.

use super::openapi::{self, Company, ErrorBody, RowId, TenantRouteErrors};
use super::resource::{Field, Kind, Page, Resource};
use super::JsonBody;
use crate::app::App;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use tenantry::router::{ApiError, TenantDb, TenantUser};

const fn text(column: &'static str, json: &'static str, max: usize, required: bool) -> Field {
    Field {
        column,
        json,
        kind: Kind::Text { max },
        required,
        default: None,
    }
}

pub static CUSTOMERS: Resource = Resource {
    table: "customers",
    singular: "customer",
    fields: &[
        text("name", "name", 200, true),
        text("email", "email", 254, false),
        text("phone", "phone", 40, false),
        text("address", "address", 500, false),
    ],
    referenced_by: &[("sites", "customer_id")],
};

pub static SITES: Resource = Resource {
    table: "sites",
    singular: "site",
    fields: &[
        Field {
            column: "customer_id",
            json: "customerId",
            kind: Kind::Ref("customers"),
            required: true,
            default: None,
        },
        text("name", "name", 200, true),
        text("address", "address", 500, false),
        text("city", "city", 100, false),
    ],
    referenced_by: &[("tickets", "site_id")],
};

pub static TICKETS: Resource = Resource {
    table: "tickets",
    singular: "ticket",
    fields: &[
        Field {
            column: "site_id",
            json: "siteId",
            kind: Kind::Ref("sites"),
            required: true,
            default: None,
        },
        text("title", "title", 200, true),
        text("description", "description", 5000, false),
        Field {
            column: "status",
            json: "status",
            kind: Kind::OneOf(&["open", "in_progress", "closed"]),
            required: true,
            default: Some("open"),
        },
        Field {
            column: "priority",
            json: "priority",
            kind: Kind::OneOf(&["low", "normal", "high", "urgent"]),
            required: true,
            default: Some("normal"),
        },
        Field {
            column: "assigned_to",
            json: "assignedTo",
            kind: Kind::Ref("users"),
            required: false,
            default: None,
        },
    ],
    referenced_by: &[],
};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/customers", get(list_customers).post(create_customers))
        .route(
            "/api/customers/{id}",
            get(get_customers)
                .put(update_customers)
                .delete(delete_customers),
        )
        .route("/api/sites", get(list_sites).post(create_sites))
        .route(
            "/api/sites/{id}",
            get(get_sites).put(update_sites).delete(delete_sites),
        )
        .route("/api/tickets", get(list_tickets).post(create_tickets))
        .route(
            "/api/tickets/{id}",
            get(get_tickets).put(update_tickets).delete(delete_tickets),
        )
}

/// `?page=&limit=`, kept as text so a bad value is a 400 naming the parameter.
#[derive(Deserialize)]
pub struct Paging {
    page: Option<String>,
    limit: Option<String>,
}

impl Paging {
    pub(super) fn parse(&self) -> Result<(u32, u32), ApiError> {
        let num = |name: &str, raw: &Option<String>, default: u32, max: u32| match raw {
            None => Ok(default),
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_input",
                        format!("{name}: must be an integer from 1 to {max}"),
                    )
                }),
        };
        Ok((
            num("page", &self.page, 1, 1_000_000)?,
            num("limit", &self.limit, 20, 100)?,
        ))
    }
}

/// Row ids are positive integers; anything else is a 400 naming `id` (not axum's plain-text 400).
pub(super) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_input",
            format!("id: {raw:?} is not a positive integer"),
        )
    })
}

macro_rules! crud {
    ($res:ident, $base:tt, $item:tt, $list:ident, $get:ident, $create:ident, $update:ident, $delete:ident) => {
        #[utoipa::path(get, path = $base, tag = "data", security(("tenant" = [])), params(Company, openapi::Paging),
            responses((status = 200, body = openapi::Page), TenantRouteErrors))]
        async fn $list(_u: TenantUser, TenantDb(mut c): TenantDb, Query(p): Query<Paging>) -> Result<Json<Page>, ApiError> {
            let (page, limit) = p.parse()?;
            Ok(Json($res.page(&mut c, page, limit).await?))
        }
        #[utoipa::path(get, path = $item, tag = "data", security(("tenant" = [])), params(RowId, Company),
            responses((status = 200, body = serde_json::Value), TenantRouteErrors))]
        async fn $get(_u: TenantUser, TenantDb(mut c): TenantDb, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
            Ok(Json($res.get(&mut c, parse_id(&id)?).await?))
        }
        #[utoipa::path(post, path = $base, tag = "data", security(("tenant" = [])), params(Company), request_body = serde_json::Value,
            responses((status = 201, body = serde_json::Value), TenantRouteErrors))]
        async fn $create(_u: TenantUser, TenantDb(mut c): TenantDb, JsonBody(b): JsonBody<Value>) -> Result<(StatusCode, Json<Value>), ApiError> {
            Ok((StatusCode::CREATED, Json($res.create(&mut c, &b).await?)))
        }
        #[utoipa::path(put, path = $item, tag = "data", security(("tenant" = [])), params(RowId, Company), request_body = serde_json::Value,
            responses((status = 200, body = serde_json::Value), TenantRouteErrors))]
        async fn $update(_u: TenantUser, TenantDb(mut c): TenantDb, Path(id): Path<String>, JsonBody(b): JsonBody<Value>) -> Result<Json<Value>, ApiError> {
            Ok(Json($res.update(&mut c, parse_id(&id)?, &b).await?))
        }
        #[utoipa::path(delete, path = $item, tag = "data", security(("tenant" = [])), params(RowId, Company),
            responses((status = 204), (status = 409, body = ErrorBody, description = "`conflict`: rows refer to it"), TenantRouteErrors))]
        async fn $delete(_u: TenantUser, TenantDb(mut c): TenantDb, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
            $res.delete(&mut c, parse_id(&id)?).await?;
            Ok(StatusCode::NO_CONTENT)
        }
    };
}

crud!(
    CUSTOMERS,
    "/api/customers",
    "/api/customers/{id}",
    list_customers,
    get_customers,
    create_customers,
    update_customers,
    delete_customers
);
crud!(
    SITES,
    "/api/sites",
    "/api/sites/{id}",
    list_sites,
    get_sites,
    create_sites,
    update_sites,
    delete_sites
);
crud!(
    TICKETS,
    "/api/tickets",
    "/api/tickets/{id}",
    list_tickets,
    get_tickets,
    create_tickets,
    update_tickets,
    delete_tickets
);
