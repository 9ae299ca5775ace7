//! Tenant vocabulary: parse-don't-validate identifiers and the enums of `DESIGN.md`.
//!
//! Every identifier that is ever spliced into DDL (database, schema and user names) is one of these
//! types, so it has been checked once, at the edge, against a strict character set.

mod names;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A value failed validation; `field` names the input, `reason` says what is wrong in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                String::schema()
            }
        }
        impl utoipa::ToSchema for $name {}
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }
    };
}

/// A tenant's code, e.g. `ACME`: `^[A-Z0-9][A-Z0-9_-]{1,31}$`. Input is upper-cased first, so
/// `?company=acme` and `ACME` name the same tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantCode(String);

impl TenantCode {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = raw.trim().to_ascii_uppercase();
        let ok = (2..=32).contains(&code.len())
            && code.as_bytes()[0].is_ascii_alphanumeric()
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(code))
        } else {
            Err(InvalidValue::new(
                "code",
                format!("{raw:?} is not a tenant code (2-32 of A-Z, 0-9, '_' or '-', starting with a letter or digit)"),
            ))
        }
    }
}
string_newtype!(TenantCode);

/// A lower-case DNS label used as a tenant's subdomain (`acme` in `acme.example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subdomain(String);

impl Subdomain {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().to_ascii_lowercase();
        if is_dns_label(&s) {
            Ok(Self(s))
        } else {
            Err(InvalidValue::new(
                "subdomain",
                format!("{raw:?} is not a DNS label (1-63 of a-z, 0-9, '-', not starting or ending with '-')"),
            ))
        }
    }
}
string_newtype!(Subdomain);

fn is_dns_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A host name (DNS name or IP address), lower-cased, without port. Used for custom domains,
/// data-server hosts and the `Host` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostName(String);

impl HostName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        if s.parse::<std::net::IpAddr>().is_ok() {
            return Ok(Self(s));
        }
        let ok = !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label);
        if ok {
            Ok(Self(s))
        } else {
            Err(InvalidValue::new(
                "host",
                format!("{raw:?} is not a DNS name or IP address"),
            ))
        }
    }

    /// Parses the value of an HTTP `Host` header: a host with an optional `:port`, which is dropped.
    pub fn from_host_header(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let host = if let Some(rest) = raw.strip_prefix('[') {
            rest.split(']').next().unwrap_or_default()
        } else {
            match raw.rsplit_once(':') {
                Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
                _ => raw,
            }
        };
        Self::parse(host)
    }
}
string_newtype!(HostName);

/// A database, schema or user name that is safe to splice into DDL: `^[a-z_][a-z0-9_]{0,62}$`.
/// For SQLite tenants it names a file inside the server's directory (`{name}.db`). Generated names
/// ([`DatabaseName::for_tenant`], [`DatabaseName::user_for`]) are injective: see `tenant/names.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatabaseName(String);

impl DatabaseName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let ok = (1..=63).contains(&raw.len())
            && raw
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidValue::new(
                "database",
                format!("{raw:?} is not a database name (1-63 of a-z, 0-9, '_', not starting with a digit)"),
            ))
        }
    }
}
string_newtype!(DatabaseName);

/// A data server's name, e.g. `eu-1`: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$` (case kept). Names appear
/// in CLI arguments and URLs (`/api/admin/servers/{name}`), so they hold nothing that needs quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName(String);

impl ServerName {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = raw.trim();
        let ok = (1..=64).contains(&s.len())
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidValue::new(
                "name",
                format!("{raw:?} is not a server name (1-64 of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit)"),
            ))
        }
    }
}
string_newtype!(ServerName);

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl FromStr for $name {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(InvalidValue::new($field, format!(
                        "{other:?} is not one of: {}", [$($text),+].join(", ")))),
                }
            }
        }
    };
}

str_enum!(
    /// A tenant's lifecycle state: `provisioning` → `active` ⇄ `suspended`; `failed`; `deleted`.
    TenantStatus, "status" {
        Provisioning => "provisioning",
        Active => "active",
        Suspended => "suspended",
        Failed => "failed",
        Deleted => "deleted",
    }
);

str_enum!(
    /// The database engine of a data server.
    Engine, "engine" {
        Postgres => "postgres",
        Mysql => "mysql",
        Sqlite => "sqlite",
        Mssql => "mssql",
    }
);

str_enum!(
    /// Who runs a data server: we do, or the customer ("bring your own database").
    Hosting, "hosting" {
        Ours => "ours",
        Customer => "customer",
    }
);

str_enum!(
    /// Where one tenant's data lives (see `DESIGN.md`).
    Placement, "placement" {
        Dedicated => "dedicated",
        Shared => "shared",
        External => "external",
    }
);

str_enum!(
    /// TLS towards a data server, in each engine's terms:
    ///
    /// | mode | PostgreSQL | MySQL/MariaDB | SQL Server / Azure SQL |
    /// |---|---|---|---|
    /// | `disable` | `sslmode=disable` | `DISABLED` | `Encrypt=false` (TLS for the login packet only, when offered) |
    /// | `prefer` | `sslmode=prefer` | `PREFERRED` | `Encrypt=false`, as `disable` (Microsoft's `Encrypt=Optional`) |
    /// | `require` | `sslmode=require` | `REQUIRED` | `Encrypt=true; TrustServerCertificate=true` |
    /// | `verify` | `sslmode=verify-full` | `VERIFY_IDENTITY` | `Encrypt=true; TrustServerCertificate=false` |
    ///
    /// `verify` checks the certificate chain (against the web PKI roots) and the host name; it is
    /// the default for SQL Server servers, as Azure SQL requires ([`Engine::default_tls`]).
    TlsMode, "tls" {
        Disable => "disable",
        Prefer => "prefer",
        Require => "require",
        Verify => "verify",
    }
);

impl Engine {
    /// The default TCP port of the engine (`0` for SQLite, whose "server" is a directory).
    pub fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
            Engine::Sqlite => 0,
            Engine::Mssql => crate::mssql::DEFAULT_PORT,
        }
    }

    /// The TLS mode a new server of this engine gets when none is given: `verify` for SQL Server
    /// (encrypt and verify the certificate, as Azure SQL requires), `prefer` for the others.
    pub fn default_tls(self) -> TlsMode {
        match self {
            Engine::Mssql => TlsMode::Verify,
            Engine::Postgres | Engine::Mysql | Engine::Sqlite => TlsMode::Prefer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_code_is_upper_cased_and_checked() {
        assert_eq!(TenantCode::parse("acme").unwrap().as_str(), "ACME");
        assert_eq!(
            TenantCode::parse("GLOBAL-SEC_2").unwrap().as_str(),
            "GLOBAL-SEC_2"
        );
        for bad in [
            "",
            "A",
            "-ACME",
            "AC ME",
            "ACME;DROP",
            &"A".repeat(33),
            "ÄCME",
        ] {
            assert!(TenantCode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn subdomain_must_be_a_dns_label() {
        assert_eq!(Subdomain::parse("Acme").unwrap().as_str(), "acme");
        for bad in ["", "-acme", "acme-", "ac.me", "ac_me", &"a".repeat(64)] {
            assert!(Subdomain::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn host_header_drops_port_and_accepts_ips() {
        assert_eq!(
            HostName::from_host_header("ACME.example.com:8080")
                .unwrap()
                .as_str(),
            "acme.example.com"
        );
        assert_eq!(
            HostName::from_host_header("127.0.0.1:80").unwrap().as_str(),
            "127.0.0.1"
        );
        assert_eq!(
            HostName::from_host_header("[::1]:80").unwrap().as_str(),
            "::1"
        );
        assert!(HostName::parse("exa mple.com").is_err());
        assert!(HostName::parse("a..b").is_err());
        assert!(HostName::parse("evil.com/../x").is_err());
    }

    #[test]
    fn database_name_rejects_anything_unsafe_for_ddl() {
        assert!(DatabaseName::parse("tenant_acme").is_ok());
        for bad in ["", "1abc", "Acme", "a-b", "a;drop", "a\"b", &"a".repeat(64)] {
            assert!(DatabaseName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn server_name_keeps_case_and_refuses_spaces_and_quotes() {
        assert_eq!(
            ServerName::parse(" EU-1.b_2 ").unwrap().as_str(),
            "EU-1.b_2"
        );
        for bad in ["", "-eu", "eu 1", "eu'1", "eu/1", &"a".repeat(65)] {
            assert!(ServerName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn enums_parse_case_insensitively_and_name_the_field() {
        assert_eq!("Postgres".parse::<Engine>().unwrap(), Engine::Postgres);
        let err = "oracle".parse::<Engine>().unwrap_err();
        assert_eq!(err.field, "engine");
        assert!(err.reason.contains("postgres, mysql, sqlite, mssql"));
        assert_eq!("MSSQL".parse::<Engine>().unwrap(), Engine::Mssql);
    }

    #[test]
    fn sql_server_defaults_to_port_1433_and_a_verified_certificate() {
        assert_eq!(Engine::Mssql.default_port(), 1433);
        assert_eq!(Engine::Mssql.default_tls(), TlsMode::Verify);
        assert_eq!(Engine::Postgres.default_tls(), TlsMode::Prefer);
        assert_eq!("verify".parse::<TlsMode>().unwrap(), TlsMode::Verify);
    }
}
