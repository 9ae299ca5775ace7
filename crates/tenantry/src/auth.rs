//! Passwords (argon2id) and tokens (HS256 JWT) for tenant users and owners.
//!
//! A tenant token carries the tenant's id (`tid`), so it is only ever accepted for the tenant whose
//! id it names, even if a tenant of the same code is deleted and created again.

use crate::secrets::MasterKey;
use crate::tenant::InvalidValue;
use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use uuid::Uuid;

/// Capacity of the argon2 work area, in 1 KiB blocks: 33 MiB, above glibc's largest dynamic mmap
/// threshold (32 MiB on 64-bit), so the area is always its own mapping and goes back to the
/// operating system when the hash is done. Only the blocks the parameters use (19 MiB for the
/// defaults) are ever touched, so resident memory stays at what the hash needs. Without this, glibc
/// raises its threshold after the first free and keeps every later 19 MiB area in a per-thread
/// arena: RSS grew by hundreds of MiB under a login flood (see the README's "Login floods").
const WORK_AREA_BLOCKS: usize = 33 * 1024;

/// argon2id, m=19456 KiB, t=2, p=1: OWASP's recommended parameters (the crate's defaults).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Runs `argon` on a work area of its own mapping (see [`WORK_AREA_BLOCKS`]).
fn argon2_into(argon: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let needed = argon.params().block_count();
    let mut blocks: Vec<Block> = Vec::with_capacity(needed.max(WORK_AREA_BLOCKS));
    blocks.resize(needed, Block::default());
    argon
        .hash_password_into_with_memory(password, salt, out, &mut blocks[..])
        .is_ok()
}

/// A new argon2id hash (PHC string) of `password`. CPU-heavy: call it through
/// [`crate::hashing::HashPool`], never on the async runtime.
pub fn hash_password(password: &str) -> String {
    let argon = hasher();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .expect("a generated salt decodes");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    assert!(argon2_into(
        &argon,
        password.as_bytes(),
        salt_bytes,
        &mut out
    ));
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).expect("default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
    }
    .to_string()
}

/// Whether `password` matches the PHC string `hash` (any argon2 variant and parameters it names);
/// the comparison is constant-time. CPU-heavy, like [`hash_password`].
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(parsed.algorithm);
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let params = Params::try_from(&parsed);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, params) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, password.as_bytes(), salt_bytes, &mut out)
        && Output::new(&out).is_ok_and(|got| got == expected)
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
        let token = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &self.keys.0,
        )
        .expect("HS256 signing does not fail");
        (token, claims.exp)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
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
    fn hashes_made_by_the_argon2_crate_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"older hash", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("older hash", &theirs));
        assert!(!verify_password("other", &theirs));
        let ours = hash_password("newer hash");
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"newer hash", &parsed)
            .is_ok());
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
        let t = jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::HS256), &c, &s.keys.0)
            .unwrap();
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
