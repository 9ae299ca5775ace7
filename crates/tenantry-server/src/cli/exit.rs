//! The one place where a failed command becomes an exit code: 0 success, 1 the operation failed
//! (including every platform refusal: not found, wrong status, bad value, …), 2 bad usage. clap
//! answers 2 itself for arguments it can check; [`Usage`] covers the combinations it cannot.

/// Bad usage that clap cannot see (e.g. `migrate` with neither `--all` nor `--only`): exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit code of a command that failed with `e`.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<Usage>().is_some() {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_and_operation_errors_exit_1() {
        assert_eq!(exit_code(&Usage("say which".into()).into()), 2);
        let refused = tenantry::platform::PlatformError::WrongCredentials;
        assert_eq!(exit_code(&anyhow::Error::new(refused)), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("io")), 1);
    }
}
