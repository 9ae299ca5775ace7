//! Admin plane: owner login and the owner-token extractor.

use super::openapi::ErrorBody;
use super::{ClientAddr, HttpError, JsonBody};
use crate::app::App;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use serde::Deserialize;
use tenantry::auth::{Claims, TokenKind};
use tenantry::platform::{Actor, OwnerSession};
use tenantry::router::ApiError;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    email: String,
    password: String,
}

#[utoipa::path(post, path = "/api/admin/login", tag = "auth", request_body = Login,
    responses((status = 200, body = OwnerSession), (status = 400, body = ErrorBody, description = "`invalid_body`"),
        (status = 401, body = ErrorBody, description = "`unauthorized`: wrong email or password")))]
pub async fn login(
    State(app): State<App>,
    ClientAddr(client): ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<OwnerSession>, HttpError> {
    let platform = app.platform();
    let session = platform.login_owner_from(&body.email, &body.password, client);
    Ok(Json(session.await?))
}

/// A verified owner token; 401 otherwise.
pub struct OwnerAuth {
    pub claims: Claims,
    /// The owner as the actor of platform operations.
    actor: Actor,
}

impl OwnerAuth {
    fn new(claims: Claims) -> Self {
        let actor = Actor::Owner {
            id: claims.sub.parse().unwrap_or_default(),
            email: claims.name.clone(),
        };
        Self { claims, actor }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

impl FromRequestParts<App> for OwnerAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        match tenantry::router::bearer_claims(app.signer(), parts)? {
            Some(c) if c.kind == TokenKind::Owner => Ok(OwnerAuth::new(c)),
            Some(_) => Err(ApiError::unauthorized("an owner token is required")),
            None => Err(ApiError::unauthorized("missing bearer token")),
        }
    }
}
