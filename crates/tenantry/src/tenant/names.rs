//! Generated database and user names: injective, so two tenants can never be given the same name.
//!
//! The old mapping (`tenant_` + the code lower-cased, `-` → `_`) sent `AB-1` and `AB_1` to the same
//! database. Here every family of names has its own prefix, and within a family the mapping is
//! reversible:
//!
//! | code | database | why |
//! |---|---|---|
//! | no `-` (`ACME`, `AB_1`) | `tenant_acme`, `tenant_ab_1` | lower-casing is injective on `[A-Z0-9_]` |
//! | with `-` (`AB-1`) | `tenantd_ab_d1` | `_` → `_u`, `-` → `_d`: a prefix code, so reversible |
//! | longer than 63 | `tenantid_{uuid}` | the tenant's own id (unique) |
//!
//! The prefixes differ at their 7th character (`_`, `d`, `i`), so no name of one family equals a
//! name of another. Users: `u_{database}`, or `uid_{uuid}` when that would exceed 63 characters.
//! Existing tenants keep the names the registry stores for them.

use super::{DatabaseName, TenantCode};
use uuid::Uuid;

/// Longest identifier PostgreSQL keeps (MySQL allows 64 for databases).
const MAX: usize = 63;

impl DatabaseName {
    /// The generated database name of tenant `code` (see the module docs). `id` (the tenant's id)
    /// is used only when the readable name would be longer than 63 characters.
    pub fn for_tenant(code: &TenantCode, id: Uuid) -> Self {
        let lower = code.as_str().to_ascii_lowercase();
        let name = if !lower.contains('-') {
            format!("tenant_{lower}")
        } else {
            let mut escaped = String::with_capacity(lower.len() * 2);
            for c in lower.chars() {
                match c {
                    '_' => escaped.push_str("_u"),
                    '-' => escaped.push_str("_d"),
                    c => escaped.push(c),
                }
            }
            format!("tenantd_{escaped}")
        };
        if name.len() <= MAX {
            Self(name)
        } else {
            Self(format!("tenantid_{}", id.simple()))
        }
    }

    /// The generated login of a dedicated tenant whose database is `database` (one tenant per
    /// database, so one login per tenant). `id` (the tenant's id) is used only when `u_{database}`
    /// would be longer than 63 characters.
    pub fn user_for(database: &DatabaseName, id: Uuid) -> Self {
        if database.0.len() + 2 <= MAX {
            Self(format!("u_{}", database.0))
        } else {
            Self(format!("uid_{}", id.simple()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn code(s: &str) -> TenantCode {
        TenantCode::parse(s).unwrap()
    }

    #[test]
    fn codes_without_a_dash_keep_the_readable_name() {
        let id = Uuid::new_v4();
        assert_eq!(
            DatabaseName::for_tenant(&code("ACME"), id).as_str(),
            "tenant_acme"
        );
        assert_eq!(
            DatabaseName::for_tenant(&code("GLOBAL_SEC"), id).as_str(),
            "tenant_global_sec"
        );
    }

    #[test]
    fn codes_that_differ_only_by_dash_or_underscore_get_different_databases() {
        let id = Uuid::new_v4();
        let dash = DatabaseName::for_tenant(&code("AB-1"), id);
        let under = DatabaseName::for_tenant(&code("AB_1"), id);
        assert_eq!(dash.as_str(), "tenantd_ab_d1");
        assert_eq!(under.as_str(), "tenant_ab_1");
        assert_ne!(
            DatabaseName::for_tenant(&code("A-_B"), id),
            DatabaseName::for_tenant(&code("A_-B"), id)
        );
    }

    #[test]
    fn names_too_long_to_escape_use_the_tenant_id() {
        let id = Uuid::new_v4();
        let long = code(&format!("A{}", "-".repeat(31)));
        let name = DatabaseName::for_tenant(&long, id);
        assert_eq!(name.as_str(), format!("tenantid_{}", id.simple()));
        let user = DatabaseName::user_for(&DatabaseName::parse(&"d".repeat(62)).unwrap(), id);
        assert_eq!(user.as_str(), format!("uid_{}", id.simple()));
    }

    #[test]
    fn generated_users_are_u_and_the_database() {
        let db = DatabaseName::parse("tenantd_ab_d1").unwrap();
        assert_eq!(
            DatabaseName::user_for(&db, Uuid::new_v4()).as_str(),
            "u_tenantd_ab_d1"
        );
    }

    /// Codes of the full grammar, weighted towards `-` and `_` so that codes differing only in
    /// them are common.
    fn codes() -> impl Strategy<Value = String> {
        prop_oneof!["[A-Z0-9][A-Z0-9_-]{1,31}", "[A1][_-]{1,31}"]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Every generated name is a valid `DatabaseName`, and no two codes share one.
        #[test]
        fn database_names_are_valid_and_injective(raw in proptest::collection::vec(codes(), 1..64)) {
            let mut seen: HashMap<DatabaseName, TenantCode> = HashMap::new();
            for raw in raw {
                let c = code(&raw);
                let name = DatabaseName::for_tenant(&c, Uuid::new_v4());
                prop_assert!(DatabaseName::parse(name.as_str()).is_ok(), "{name} is not valid");
                let user = DatabaseName::user_for(&name, Uuid::new_v4());
                prop_assert!(DatabaseName::parse(user.as_str()).is_ok(), "{user} is not valid");
                if let Some(other) = seen.insert(name.clone(), c.clone()) {
                    prop_assert_eq!(&other, &c, "{} and {} both got {}", other, c, name);
                }
            }
        }

        /// Each `-`/`_` variant of one code gets its own database.
        #[test]
        fn every_dash_underscore_variant_of_a_code_has_its_own_database(
            base in "[A-Z0-9]{1,8}",
            seps in proptest::collection::vec(any::<bool>(), 1..8),
        ) {
            let n = seps.len();
            let mut names = HashMap::new();
            for mask in 0..(1u32 << n) {
                let mut raw = base.clone();
                for (i, _) in seps.iter().enumerate() {
                    raw.push(if mask & (1 << i) != 0 { '-' } else { '_' });
                    raw.push('X');
                }
                let name = DatabaseName::for_tenant(&code(&raw), Uuid::new_v4());
                prop_assert!(names.insert(name, raw).is_none());
            }
        }
    }
}
