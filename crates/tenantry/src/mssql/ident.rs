//! What may be spliced into T-SQL: bracket-quoted identifiers and vetted password literals.
//!
//! DDL cannot bind parameters (`CREATE DATABASE @P1` does not exist, and `CREATE LOGIN … WITH
//! PASSWORD` takes a literal), so names come only from [`DatabaseName`] (already `[a-z0-9_]`) and
//! passwords only after a character check; both are quoted anyway.

use super::MssqlError;
use crate::tenant::DatabaseName;
use secrecy::{ExposeSecret, SecretString};

/// `[name]`, with `]` doubled as `QUOTENAME` does (a no-op for a [`DatabaseName`]).
pub(crate) fn bracket(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

/// `[name]` of a parsed name.
pub(crate) fn quoted(name: &DatabaseName) -> String {
    bracket(name.as_str())
}

/// `N'…'` with `'` doubled: for advice text shown to a DBA, never for executed DDL of ours.
pub(crate) fn nstring(text: &str) -> String {
    format!("N'{}'", text.replace('\'', "''"))
}

/// A generated password (alphanumeric only) as an `N'…'` literal for `CREATE LOGIN`.
pub(crate) fn generated_password_literal(password: &SecretString) -> Result<String, MssqlError> {
    let pw = password.expose_secret();
    if pw.is_empty() || !pw.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(MssqlError::InvalidPassword(
            "a generated login password must be alphanumeric",
        ));
    }
    Ok(format!("N'{pw}'"))
}

/// A password chosen by an operator as an `N'…'` literal for `ALTER LOGIN`: the characters
/// `credentials::check_password` allows (8-128 of `A-Z a-z 0-9 . _ ~ ! @ # % ^ * + = -`).
pub(crate) fn password_literal(password: &SecretString) -> Result<String, MssqlError> {
    if crate::platform::check_password(password).is_err() {
        return Err(MssqlError::InvalidPassword(
            "must be 8-128 characters of A-Z a-z 0-9 and . _ ~ ! @ # % ^ * + = -",
        ));
    }
    Ok(format!("N'{}'", password.expose_secret()))
}

/// A table or column name of a data-API description: `^[a-z_][a-z0-9_]*$`, returned bracketed.
pub(crate) fn column(name: &str) -> Result<String, MssqlError> {
    let ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(bracket(name))
    } else {
        Err(MssqlError::InvalidIdentifier(name.to_owned()))
    }
}

/// Length of a password from [`generate_login_password`].
pub const LOGIN_PASSWORD_LEN: usize = 24;

/// A fresh alphanumeric login password that always has an upper-case letter, a lower-case letter
/// and a digit: SQL Server's password policy (`CHECK_POLICY = ON`, always on in Azure SQL) wants
/// three of four character classes, which one in ~70 plain random alphanumeric strings misses.
pub fn generate_login_password() -> SecretString {
    loop {
        let candidate = crate::secrets::generate_password();
        let pw = candidate.expose_secret();
        let has = |f: fn(&u8) -> bool| pw.as_bytes().iter().any(f);
        if pw.len() == LOGIN_PASSWORD_LEN
            && has(u8::is_ascii_uppercase)
            && has(u8::is_ascii_lowercase)
            && has(u8::is_ascii_digit)
        {
            return candidate;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn brackets_double_a_closing_bracket_like_quotename() {
        assert_eq!(bracket("tenant_acme"), "[tenant_acme]");
        assert_eq!(bracket("a]b"), "[a]]b]");
        assert_eq!(nstring("O'Brien"), "N'O''Brien'");
    }

    #[test]
    fn a_generated_password_must_be_alphanumeric() {
        assert_eq!(
            generated_password_literal(&secret("Abc123xyz")).unwrap(),
            "N'Abc123xyz'"
        );
        for bad in ["", "abc'--", "abc def", "päss", "a;b"] {
            let err = generated_password_literal(&secret(bad)).unwrap_err();
            assert!(!err.to_string().contains(bad) || bad.is_empty(), "{err}");
        }
    }

    #[test]
    fn an_operator_password_refuses_quotes_and_short_values() {
        assert!(password_literal(&secret("N3w.pass-word")).is_ok());
        for bad in ["short", "has'quote1", "has space 12", "back\\slash12"] {
            assert!(password_literal(&secret(bad)).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn data_api_names_must_be_plain_lower_case_identifiers() {
        assert_eq!(column("created_at").unwrap(), "[created_at]");
        for bad in ["", "1a", "Name", "a]b", "a b", "a;drop"] {
            assert!(column(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn generated_login_passwords_have_every_class_sql_server_counts() {
        for _ in 0..200 {
            let pw = generate_login_password();
            let pw = pw.expose_secret();
            assert_eq!(pw.len(), LOGIN_PASSWORD_LEN);
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()), "{pw}");
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()), "{pw}");
            assert!(pw.bytes().any(|b| b.is_ascii_digit()), "{pw}");
            assert!(generated_password_literal(&SecretString::from(pw.to_owned())).is_ok());
        }
    }
}
