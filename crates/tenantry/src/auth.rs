//! Passwords (argon2id) and tokens (HS256 JWT) for tenant users and owners.
//!
//! A tenant token carries the tenant's id (`tid`), so it is only ever accepted for the tenant whose
//! id it names, even if a tenant of the same code is deleted and created again.

use crate::secrets::MasterKey;
use crate::tenant::InvalidValue;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use uuid::Uuid;

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters does not fail")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Spends the time of one verification, so an unknown user name answers as slowly as a wrong
/// password and the two cannot be told apart by timing.
pub fn burn_verify_time(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let hash = DUMMY.get_or_init(|| hash_password("tenantry-dummy-password"));
    let _ = verify_password(password, hash);
}

/// Lower-cases and checks an e-mail address (one `@`, a dotted domain, no spaces).
pub fn parse_email(raw: &str) -> Result<String, InvalidValue> {
    let email = raw.trim().to_ascii_lowercase();
    let ok = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty() && d.contains('.') && !d.contains('@') && !d.starts_with('.')
        });
    if ok {
        Ok(email)
    } else {
        Err(InvalidValue::new(
            "email",
            format!("{raw:?} is not an e-mail address"),
        ))
    }
}

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Tenant,
    Owner,
}

/// JWT claims of both kinds of token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id (tenant user id, or owner UUID).
    pub sub: String,
    pub kind: TokenKind,
    /// Tenant id; present on tenant tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<Uuid>,
    /// Tenant code; present on tenant tokens only (the tenant claim used for resolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub name: String,
    pub role: String,
    /// Tenant tokens: the fingerprint of the user's password hash when the token was issued
    /// ([`crate::users::password_version`]); a new password makes older tokens invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwv: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct TokenError(#[from] jsonwebtoken::errors::Error);

/// Signs and verifies tokens with a secret derived from the master key. Cheap to clone.
#[derive(Clone)]
pub struct TokenSigner {
    keys: Arc<(EncodingKey, DecodingKey)>,
    /// How long issued tokens are valid.
    ttl: Duration,
}

impl TokenSigner {
    pub fn new(key: &MasterKey, ttl: Duration) -> Self {
        let secret = key.derive("jwt-hs256");
        Self {
            keys: Arc::new((
                EncodingKey::from_secret(&secret),
                DecodingKey::from_secret(&secret),
            )),
            ttl,
        }
    }

    /// Issues a token; `claims.iat` and `claims.exp` are set here.
    pub fn issue(&self, mut claims: Claims) -> (String, i64) {
        let now = chrono::Utc::now().timestamp();
        claims.iat = now;
        claims.exp = now + self.ttl.as_secs() as i64;
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.keys.0)
            .expect("HS256 signing does not fail");
        (token, claims.exp)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 5;
        Ok(jsonwebtoken::decode::<Claims>(token, &self.keys.1, &v)?.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: "1".into(),
            kind: TokenKind::Tenant,
            tid: Some(Uuid::new_v4()),
            tenant: Some("ACME".into()),
            name: "admin".into(),
            role: "admin".into(),
            pwv: Some("0011223344556677".into()),
            iat: 0,
            exp: 0,
        }
    }

    #[test]
    fn password_verifies_only_against_its_own_hash() {
        let h = hash_password("correct horse");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn token_round_trips_and_carries_the_tenant_id() {
        let s = TokenSigner::new(&MasterKey::generate(), Duration::from_secs(60));
        let c = claims();
        let (t, _) = s.issue(c.clone());
        let back = s.verify(&t).unwrap();
        assert_eq!(back.tid, c.tid);
        assert_eq!(back.tenant.as_deref(), Some("ACME"));
    }

    #[test]
    fn token_signed_with_another_key_is_rejected() {
        let a = TokenSigner::new(&MasterKey::generate(), Duration::from_secs(60));
        let b = TokenSigner::new(&MasterKey::generate(), Duration::from_secs(60));
        let (t, _) = a.issue(claims());
        assert!(b.verify(&t).is_err());
        assert!(a.verify("not.a.token").is_err());
    }

    #[test]
    fn expired_token_is_rejected() {
        let s = TokenSigner::new(&MasterKey::generate(), Duration::from_secs(60));
        let mut c = claims();
        c.iat = 0;
        c.exp = chrono::Utc::now().timestamp() - 3600;
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &c, &s.keys.0).unwrap();
        assert!(s.verify(&t).is_err());
    }

    #[test]
    fn email_is_normalized_and_checked() {
        assert_eq!(
            parse_email(" Owner@Tenantry.Local ").unwrap(),
            "owner@tenantry.local"
        );
        for bad in ["", "owner", "@x.com", "a@b", "a b@c.com", "a@@b.com"] {
            assert!(parse_email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
