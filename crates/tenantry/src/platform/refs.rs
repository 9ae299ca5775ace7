//! How callers name a tenant or a data server: by UUID or by code / name, parsed once at the edge
//! (a URL path segment, a CLI argument) into one type.

use crate::tenant::{InvalidValue, ServerName, TenantCode};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A tenant named by its id or its code. A UUID is always taken as an id (codes are at most 32
/// characters, a UUID is 36, so the two never overlap).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantRef {
    Id(Uuid),
    Code(TenantCode),
}

impl TenantRef {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) => TenantCode::parse(raw)
                .map(Self::Code)
                .map_err(|e| InvalidValue {
                    field: "tenant",
                    reason: e.reason,
                }),
        }
    }
}

impl FromStr for TenantRef {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TenantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Code(code) => code.fmt(f),
        }
    }
}

impl From<TenantCode> for TenantRef {
    fn from(code: TenantCode) -> Self {
        Self::Code(code)
    }
}

impl From<Uuid> for TenantRef {
    fn from(id: Uuid) -> Self {
        Self::Id(id)
    }
}

/// A data server named by its id or its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerRef {
    Id(Uuid),
    Name(ServerName),
}

impl ServerRef {
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => Ok(Self::Id(id)),
            Err(_) => ServerName::parse(raw)
                .map(Self::Name)
                .map_err(|e| InvalidValue {
                    field: "server",
                    reason: e.reason,
                }),
        }
    }
}

impl FromStr for ServerRef {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ServerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Name(name) => name.fmt(f),
        }
    }
}

impl From<ServerName> for ServerRef {
    fn from(name: ServerName) -> Self {
        Self::Name(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_is_an_id_and_anything_else_a_code() {
        let id = Uuid::new_v4();
        assert_eq!(
            TenantRef::parse(&id.to_string()).unwrap(),
            TenantRef::Id(id)
        );
        assert_eq!(
            TenantRef::parse("acme").unwrap(),
            TenantRef::Code(TenantCode::parse("ACME").unwrap())
        );
    }

    #[test]
    fn a_bad_tenant_ref_names_the_tenant_field() {
        let err = TenantRef::parse("bad code").unwrap_err();
        assert_eq!(err.field, "tenant");
        let err = ServerRef::parse("no such server!").unwrap_err();
        assert_eq!(err.field, "server");
    }
}
