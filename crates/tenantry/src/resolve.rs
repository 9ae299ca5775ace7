//! Finds the tenant code of a request, from (in order): a verified token's tenant claim, the
//! `X-Tenant` header, the `?company=CODE` query, a custom domain (exact `Host` match), a subdomain of
//! the base domain. Every source present must name the same tenant; otherwise the request is refused.

use crate::registry::{Registry, RegistryError};
use crate::tenant::{HostName, InvalidValue, Subdomain, TenantCode};
use axum::http::request::Parts;

/// Where a tenant code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Token,
    Header,
    Query,
    Domain,
    Subdomain,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Token => "token",
            Source::Header => "X-Tenant header",
            Source::Query => "company parameter",
            Source::Domain => "custom domain",
            Source::Subdomain => "subdomain",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("{0}")]
    InvalidCode(InvalidValue),
    #[error("the {first} names tenant {first_code} but the {second} names tenant {second_code}")]
    Mismatch {
        first: &'static str,
        first_code: TenantCode,
        second: &'static str,
        second_code: TenantCode,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The explicit sources of one request (everything but the host).
#[derive(Debug, Default)]
pub struct Explicit<'a> {
    pub token: Option<&'a str>,
    pub header: Option<&'a str>,
    pub query: Option<&'a str>,
}

/// Picks the first source in order and checks every other one agrees. Pure: the host sources are
/// passed in already looked up.
pub fn decide(
    explicit: &Explicit<'_>,
    host_code: Option<(TenantCode, Source)>,
) -> Result<Option<(TenantCode, Source)>, ResolveError> {
    let mut found: Vec<(TenantCode, Source)> = Vec::with_capacity(4);
    for (raw, source) in [
        (explicit.token, Source::Token),
        (explicit.header, Source::Header),
        (explicit.query, Source::Query),
    ] {
        if let Some(raw) = raw {
            let code = TenantCode::parse(raw).map_err(|mut e| {
                e.field = match source {
                    Source::Query => "company",
                    Source::Header => "X-Tenant",
                    _ => "tenant",
                };
                ResolveError::InvalidCode(e)
            })?;
            found.push((code, source));
        }
    }
    found.extend(host_code);
    let mut iter = found.into_iter();
    let Some(first) = iter.next() else {
        return Ok(None);
    };
    for other in iter {
        if other.0 != first.0 {
            return Err(ResolveError::Mismatch {
                first: first.1.as_str(),
                first_code: first.0,
                second: other.1.as_str(),
                second_code: other.0,
            });
        }
    }
    Ok(Some(first))
}

/// The value of `?company=` in a query string, percent-decoded.
pub fn company_param(query: Option<&str>) -> Option<String> {
    let query = query?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "company")
        .map(|(_, v)| v.into_owned())
}

/// The subdomain label of `host` under `base` (`acme.example.com` under `example.com` → `acme`).
/// Only a single label counts: `a.b.example.com` names no tenant.
pub fn subdomain_of(host: &HostName, base: &HostName) -> Option<Subdomain> {
    let label = host
        .as_str()
        .strip_suffix(base.as_str())?
        .strip_suffix('.')?;
    if label.contains('.') {
        return None;
    }
    Subdomain::parse(label).ok()
}

/// Looks the request's host up as a custom domain, then as a subdomain of `base_domain`.
pub async fn host_code(
    registry: &Registry,
    parts: &Parts,
    base_domain: Option<&HostName>,
) -> Result<Option<(TenantCode, Source)>, ResolveError> {
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.host());
    let Some(host) = host.and_then(|h| HostName::from_host_header(h).ok()) else {
        return Ok(None);
    };
    if let Some(code) = registry.code_for_domain(&host).await? {
        return Ok(Some((code, Source::Domain)));
    }
    if let Some(sub) = base_domain.and_then(|base| subdomain_of(&host, base)) {
        if let Some(code) = registry.code_for_subdomain(&sub).await? {
            return Ok(Some((code, Source::Subdomain)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> TenantCode {
        TenantCode::parse(s).unwrap()
    }

    #[test]
    fn token_claim_wins_over_every_other_source() {
        let e = Explicit {
            token: Some("ACME"),
            header: Some("acme"),
            query: Some("ACME"),
        };
        let got = decide(&e, Some((code("ACME"), Source::Subdomain)))
            .unwrap()
            .unwrap();
        assert_eq!(got, (code("ACME"), Source::Token));
    }

    #[test]
    fn order_is_header_then_query_then_host() {
        let e = Explicit {
            header: Some("DEMO"),
            query: Some("DEMO"),
            ..Default::default()
        };
        assert_eq!(decide(&e, None).unwrap().unwrap().1, Source::Header);
        let e = Explicit {
            query: Some("DEMO"),
            ..Default::default()
        };
        assert_eq!(
            decide(&e, Some((code("DEMO"), Source::Domain)))
                .unwrap()
                .unwrap()
                .1,
            Source::Query
        );
        let e = Explicit::default();
        assert_eq!(
            decide(&e, Some((code("DEMO"), Source::Subdomain)))
                .unwrap()
                .unwrap()
                .1,
            Source::Subdomain
        );
        assert!(decide(&e, None).unwrap().is_none());
    }

    #[test]
    fn conflicting_sources_are_a_mismatch() {
        let e = Explicit {
            token: Some("ACME"),
            query: Some("DEMO"),
            ..Default::default()
        };
        let err = decide(&e, None).unwrap_err();
        assert!(matches!(err, ResolveError::Mismatch { .. }));
        assert_eq!(
            err.to_string(),
            "the token names tenant ACME but the company parameter names tenant DEMO"
        );
        let e = Explicit {
            header: Some("ACME"),
            ..Default::default()
        };
        assert!(decide(&e, Some((code("DEMO"), Source::Domain))).is_err());
    }

    #[test]
    fn malformed_code_names_its_source() {
        let e = Explicit {
            query: Some("no spaces"),
            ..Default::default()
        };
        match decide(&e, None).unwrap_err() {
            ResolveError::InvalidCode(v) => assert_eq!(v.field, "company"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn company_param_is_decoded() {
        assert_eq!(
            company_param(Some("page=2&company=acme%2D1")).as_deref(),
            Some("acme-1")
        );
        assert_eq!(company_param(Some("page=2")), None);
        assert_eq!(company_param(None), None);
    }

    #[test]
    fn only_a_single_label_under_the_base_domain_is_a_subdomain() {
        let base = HostName::parse("example.com").unwrap();
        let h = |s| HostName::parse(s).unwrap();
        assert_eq!(
            subdomain_of(&h("acme.example.com"), &base)
                .unwrap()
                .as_str(),
            "acme"
        );
        assert!(subdomain_of(&h("a.b.example.com"), &base).is_none());
        assert!(subdomain_of(&h("example.com"), &base).is_none());
        assert!(subdomain_of(&h("acmeexample.com"), &base).is_none());
        assert!(subdomain_of(&h("acme.other.com"), &base).is_none());
    }
}
