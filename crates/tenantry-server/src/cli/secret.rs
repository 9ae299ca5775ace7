//! Secrets at the command line: read from a named environment variable (kept out of shell
//! history) or typed at a prompt that does not echo.

use anyhow::Context;
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

/// A new password: from `var` when named, else typed twice at the terminal (not echoed).
pub fn new_password(var: Option<&str>, what: &str) -> anyhow::Result<SecretString> {
    if let Some(p) = from_env(var)? {
        return Ok(p);
    }
    let first = rpassword::prompt_password(format!("{what}: "))
        .with_context(|| format!("cannot read the {what} (no terminal? use --password-env VAR)"))?;
    let again = rpassword::prompt_password(format!("{what} again: "))
        .with_context(|| format!("cannot read the {what}"))?;
    anyhow::ensure!(
        first == again,
        "the two entries differ; nothing was changed"
    );
    Ok(SecretString::from(first))
}
