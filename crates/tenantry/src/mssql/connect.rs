//! One authenticated connection to SQL Server: TCP, TLS (SQL Server's `Encrypt` /
//! `TrustServerCertificate` semantics), login, and the Azure SQL gateway's one redirect.

use super::MssqlError;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

/// A connection to SQL Server.
pub type MssqlClient = Client<Compat<TcpStream>>;

/// Budget of TCP connect + TLS handshake + login when none is given (ADO.NET's default is 15 s;
/// shorter here because a tenant request waits on it).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SQL Server's client TLS settings, as in a connection string.
///
/// | `encrypt` | `trust_server_certificate` | meaning |
/// |---|---|---|
/// | true  | false | everything encrypted, certificate chain and host name verified (default; Azure SQL) |
/// | true  | true  | everything encrypted, any certificate accepted (self-signed on-premises servers) |
/// | false | any   | only the login packet is encrypted, if the server offers TLS, and its certificate is not verified (what `Encrypt=false` does in Microsoft's drivers) |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MssqlTls {
    /// `Encrypt`: encrypt the whole session and fail if the server cannot. Default `true`.
    pub encrypt: bool,
    /// `TrustServerCertificate`: skip certificate verification. Default `false`.
    pub trust_server_certificate: bool,
}

impl Default for MssqlTls {
    fn default() -> Self {
        Self::VERIFY
    }
}

impl MssqlTls {
    /// Encrypt and verify the certificate (the default; what Azure SQL requires).
    pub const VERIFY: Self = Self {
        encrypt: true,
        trust_server_certificate: false,
    };
    /// Encrypt, accept any certificate.
    pub const TRUST: Self = Self {
        encrypt: true,
        trust_server_certificate: true,
    };
    /// No session encryption (the login packet is still encrypted when the server offers TLS).
    pub const OFF: Self = Self {
        encrypt: false,
        trust_server_certificate: false,
    };

    fn apply(self, config: &mut Config) {
        if self.encrypt {
            config.encryption(EncryptionLevel::Required);
            if self.trust_server_certificate {
                config.trust_cert();
            }
        } else {
            // Login-only encryption: Microsoft's drivers do not verify the certificate used for it.
            config.encryption(EncryptionLevel::Off);
            config.trust_cert();
        }
    }
}

/// Where and as whom to connect. `Debug` never shows the password.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    /// Default 1433 ([`super::DEFAULT_PORT`]).
    pub port: u16,
    /// The database to open at login (`master` for server administration).
    pub database: String,
    /// A SQL Server login (SQL authentication).
    pub user: String,
    pub password: SecretString,
    pub tls: MssqlTls,
    /// Budget of TCP connect, TLS handshake and login together. Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
}

impl ConnectOptions {
    /// Options with the default port, TLS (encrypt + verify) and connect timeout.
    pub fn new(
        host: impl Into<String>,
        database: impl Into<String>,
        user: impl Into<String>,
        password: SecretString,
    ) -> Self {
        Self {
            host: host.into(),
            port: super::DEFAULT_PORT,
            database: database.into(),
            user: user.into(),
            password,
            tls: MssqlTls::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, database: impl Into<String>) -> Self {
        Self {
            database: database.into(),
            ..self.clone()
        }
    }

    /// The same server, database and TLS, other credentials.
    pub fn with_login(&self, user: impl Into<String>, password: SecretString) -> Self {
        Self {
            user: user.into(),
            password,
            ..self.clone()
        }
    }

    fn config(&self, host: &str, port: u16) -> Config {
        let mut config = Config::new();
        config.host(host);
        config.port(port);
        config.database(&self.database);
        config.application_name("tenantry");
        config.authentication(AuthMethod::sql_server(
            &self.user,
            self.password.expose_secret(),
        ));
        config.handshake_timeout(Some(self.connect_timeout));
        self.tls.apply(&mut config);
        config
    }
}

/// Opens one connection: TCP, TLS, login; follows one Azure SQL gateway redirect. The whole
/// attempt is bounded by `opts.connect_timeout`.
#[tracing::instrument(skip_all, fields(host = %opts.host, port = opts.port, database = %opts.database, user = %opts.user))]
pub async fn connect(opts: &ConnectOptions) -> Result<MssqlClient, MssqlError> {
    let timeout = MssqlError::ConnectTimeout {
        host: opts.host.clone(),
        port: opts.port,
        after: opts.connect_timeout,
    };
    tokio::time::timeout(opts.connect_timeout, connect_following_redirect(opts))
        .await
        .map_err(|_| timeout)?
}

async fn connect_following_redirect(opts: &ConnectOptions) -> Result<MssqlClient, MssqlError> {
    match attempt(opts, &opts.host, opts.port).await {
        // Azure SQL's gateway sends the client on to the node hosting the database; a second
        // redirect would be a loop, so it is reported as a login failure.
        Err(Attempt::Routing { host, port }) => attempt(opts, &host, port)
            .await
            .map_err(|e| e.into_error(opts, &host, port)),
        other => other.map_err(|e| e.into_error(opts, &opts.host, opts.port)),
    }
}

enum Attempt {
    Tcp(std::io::Error),
    Routing { host: String, port: u16 },
    Tiberius(tiberius::error::Error),
}

impl Attempt {
    fn into_error(self, opts: &ConnectOptions, host: &str, port: u16) -> MssqlError {
        let (host, port) = (host.to_owned(), port);
        match self {
            Attempt::Tcp(source) => MssqlError::Tcp { host, port, source },
            // tiberius' own handshake timer (set to the same budget) may ring first.
            Attempt::Tiberius(tiberius::error::Error::Io {
                kind: std::io::ErrorKind::TimedOut,
                ..
            }) => MssqlError::ConnectTimeout {
                host,
                port,
                after: opts.connect_timeout,
            },
            Attempt::Tiberius(source @ tiberius::error::Error::Tls(_)) => MssqlError::Tls {
                host,
                port,
                source: Box::new(source),
            },
            Attempt::Routing { host: to, port: p } => MssqlError::Login {
                host,
                port,
                database: opts.database.clone(),
                user: opts.user.clone(),
                source: Box::new(tiberius::error::Error::Routing { host: to, port: p }),
            },
            Attempt::Tiberius(source) => MssqlError::Login {
                host,
                port,
                database: opts.database.clone(),
                user: opts.user.clone(),
                source: Box::new(source),
            },
        }
    }
}

async fn attempt(opts: &ConnectOptions, host: &str, port: u16) -> Result<MssqlClient, Attempt> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(Attempt::Tcp)?;
    tcp.set_nodelay(true).map_err(Attempt::Tcp)?;
    // Boxed: tiberius' login future is large (~20 KB in debug builds), and every future that
    // awaits a connection (provisioning, probes, pools) would otherwise carry it inline.
    let login = Box::pin(Client::connect(opts.config(host, port), tcp.compat_write()));
    match login.await {
        Ok(client) => Ok(client),
        Err(tiberius::error::Error::Routing { host, port }) => Err(Attempt::Routing { host, port }),
        Err(e) => Err(Attempt::Tiberius(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_tls_mode_encrypts_and_verifies_the_certificate() {
        assert_eq!(MssqlTls::default(), MssqlTls::VERIFY);
        assert!(MssqlTls::default().encrypt);
        assert!(!MssqlTls::default().trust_server_certificate);
    }

    #[test]
    fn debug_output_of_connect_options_hides_the_password() {
        let opts = ConnectOptions::new(
            "db.example",
            "master",
            "sa",
            SecretString::from("Sup3rSecretPw".to_owned()),
        );
        let shown = format!("{opts:?}");
        assert!(!shown.contains("Sup3rSecretPw"), "{shown}");
        assert!(
            shown.contains("db.example") && shown.contains("1433"),
            "{shown}"
        );
    }
}
