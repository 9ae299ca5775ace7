//! Admin plane: owner login and the owner-token extractor.

use super::JsonBody;
use crate::startup::App;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use tenantry::auth::{Claims, TokenKind};
use tenantry::router::ApiError;

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn login(
    State(app): State<App>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Json<Value>, ApiError> {
    let owner = app
        .registry()
        .verify_owner(&body.email, &body.password)
        .await?
        .ok_or_else(|| ApiError::unauthorized("wrong email or password"))?;
    let (token, exp) = app.signer().issue(Claims {
        sub: owner.id.to_string(),
        kind: TokenKind::Owner,
        tid: None,
        tenant: None,
        name: owner.email.clone(),
        role: "owner".into(),
        iat: 0,
        exp: 0,
    });
    Ok(Json(
        json!({"token": token, "expiresAt": exp, "owner": owner}),
    ))
}

/// A verified owner token; 401 otherwise.
pub struct OwnerAuth(pub Arc<Claims>);

impl FromRequestParts<App> for OwnerAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        match tenantry::router::bearer_claims(app.signer(), parts)? {
            Some(c) if c.kind == TokenKind::Owner => Ok(OwnerAuth(Arc::new(c))),
            Some(_) => Err(ApiError::unauthorized("an owner token is required")),
            None => Err(ApiError::unauthorized("missing bearer token")),
        }
    }
}
