//! Secrets at the command line: read from a named environment variable (kept out of shell
//! history).

use secrecy::SecretString;

/// The value of environment variable `var`, if one is named.
pub fn from_env(var: Option<&str>) -> anyhow::Result<Option<SecretString>> {
    match var {
        None => Ok(None),
        Some(v) => std::env::var(v)
            .map(|p| Some(SecretString::from(p)))
            .map_err(|_| anyhow::anyhow!("environment variable {v} is not set")),
    }
}
