//! The secret box: AES-256-GCM encryption of stored credentials.
//!
//! Ciphertext format: `v1:{key_id}:{base64(nonce ‖ ciphertext ‖ tag)}`. The key id is the first
//! 8 hex digits of SHA-256 over the key, so a ciphertext names the key that can open it, and a box
//! that holds several keys (during rotation) picks the right one. Every ciphertext is bound to a
//! context string (associated data, e.g. `tenant:{id}:password`), so a ciphertext copied into
//! another row does not decrypt there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("no master key: set TENANTRY_MASTER_KEY or create the key file {0}")]
    MissingKey(String),
    #[error("master key is malformed: expected 32 bytes as 64 hex digits or base64 ({0})")]
    MalformedKey(&'static str),
    #[error("cannot read key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext was made with key {0}, which this secret box does not hold")]
    UnknownKey(String),
    #[error("ciphertext does not decrypt: wrong key or tampered data")]
    Decrypt,
}

/// A 256-bit master key. `Debug` never prints the bytes.
#[derive(Clone)]
pub struct MasterKey {
    bytes: [u8; 32],
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { bytes, id }
    }

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(bytes)
    }

    /// Parses 64 hex digits or standard base64 of 32 bytes (surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SecretError::MalformedKey("bad hex"))?
        } else {
            B64.decode(text)
                .map_err(|_| SecretError::MalformedKey("neither hex nor base64"))?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SecretError::MalformedKey("wrong length"))?;
        Ok(Self::from_bytes(bytes))
    }

    pub fn from_file(path: &Path) -> Result<Self, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(SecretError::MissingKey(path.display().to_string()))
            }
            Err(source) => Err(SecretError::KeyFile {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Parses a keyring: one key a line, the first current, the rest previous keys that still
    /// decrypt (during a rotation). Blank lines and `#` comments are ignored.
    pub fn parse_keyring(text: &str) -> Result<Vec<Self>, SecretError> {
        let keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err(SecretError::MalformedKey("empty key file"));
        }
        Ok(keys)
    }

    /// Reads a keyring file (see [`MasterKey::parse_keyring`]).
    pub fn keyring_from_file(path: &Path) -> Result<Vec<Self>, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_keyring(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(SecretError::MissingKey(path.display().to_string()))
            }
            Err(source) => Err(SecretError::KeyFile {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Replaces a keyring file atomically (temporary file, then rename; mode 0600 on Unix).
    pub fn write_keyring(path: &Path, keys: &[MasterKey]) -> Result<(), SecretError> {
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        let tmp = path.with_extension("key.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp).map_err(io)?;
        let text: String = keys.iter().map(|k| format!("{}\n", k.to_hex())).collect();
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Writes a new key file (mode 0600 on Unix) and returns the key. Fails if the file exists.
    pub fn create_file(path: &Path) -> Result<Self, SecretError> {
        let key = Self::generate();
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        std::io::Write::write_all(&mut file, key.to_hex().as_bytes()).map_err(io)?;
        Ok(key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn to_hex(&self) -> String {
        self.bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Derives a separate 32-byte secret for another purpose (e.g. signing tokens), so the
    /// encryption key itself is never used twice.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"tenantry-derive:");
        h.update(purpose.as_bytes());
        h.update(self.bytes);
        h.finalize().into()
    }
}

/// Encrypts with the current key; decrypts with any key it holds. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    /// The key new ciphertexts are made with.
    current: std::sync::Arc<(MasterKey, Aes256Gcm)>,
    /// Older keys that still decrypt while a rotation is under way.
    previous: std::sync::Arc<Vec<(MasterKey, Aes256Gcm)>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretBox(current={})", self.current.0.id)
    }
}

impl SecretBox {
    pub fn new(key: MasterKey) -> Self {
        Self::with_previous(key, Vec::new())
    }

    pub fn with_previous(key: MasterKey, previous: Vec<MasterKey>) -> Self {
        let cipher = |k: &MasterKey| Aes256Gcm::new_from_slice(&k.bytes).expect("32-byte key");
        Self {
            current: std::sync::Arc::new((key.clone(), cipher(&key))),
            previous: std::sync::Arc::new(
                previous
                    .into_iter()
                    .map(|k| (k.clone(), cipher(&k)))
                    .collect(),
            ),
        }
    }

    /// A box over a keyring: the first key is current, the rest still decrypt.
    pub fn from_keyring(mut keys: Vec<MasterKey>) -> Self {
        assert!(!keys.is_empty(), "a keyring holds at least one key");
        let current = keys.remove(0);
        Self::with_previous(current, keys)
    }

    /// Every key, current first (to write a keyring file).
    pub fn keys(&self) -> Vec<MasterKey> {
        std::iter::once(self.current.0.clone())
            .chain(self.previous.iter().map(|(k, _)| k.clone()))
            .collect()
    }

    pub fn key_id(&self) -> &str {
        self.current.0.id()
    }

    pub fn master_key(&self) -> &MasterKey {
        &self.current.0
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .current
            .1
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory buffers");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        format!("v1:{}:{}", self.current.0.id, B64.encode(blob))
    }

    pub fn decrypt(&self, ciphertext: &str, context: &str) -> Result<SecretString, SecretError> {
        let mut parts = ciphertext.splitn(3, ':');
        let (Some("v1"), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretError::Malformed);
        };
        let cipher = std::iter::once(&*self.current)
            .chain(self.previous.iter())
            .find(|(k, _)| k.id == kid)
            .map(|(_, c)| c)
            .ok_or_else(|| SecretError::UnknownKey(kid.to_owned()))?;
        let blob = B64.decode(body).map_err(|_| SecretError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(12);
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Decrypt)?;
        let text = String::from_utf8(plain).map_err(|_| SecretError::Malformed)?;
        Ok(SecretString::from(text))
    }

    /// The key id a ciphertext names, if it is well formed.
    pub fn key_id_of(ciphertext: &str) -> Option<&str> {
        ciphertext.strip_prefix("v1:")?.split(':').next()
    }
}

/// Length of a generated password: 24 alphanumerics, about 143 bits.
pub const GENERATED_PASSWORD_LEN: usize = 24;

/// A fresh random password of [`GENERATED_PASSWORD_LEN`] alphanumerics: the one generator of the
/// platform (tenant admin users, database logins). Alphanumeric only, so it is safe to splice into
/// DDL (which cannot bind parameters) and to paste from a terminal.
pub fn generate_password() -> SecretString {
    use rand::distributions::{Alphanumeric, DistString};
    SecretString::from(Alphanumeric.sample_string(&mut rand::rngs::OsRng, GENERATED_PASSWORD_LEN))
}

/// Reads the plaintext of a secret; the one place the crate exposes one.
pub fn expose(secret: &SecretString) -> &str {
    secret.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_24_fresh_alphanumerics() {
        let (a, b) = (generate_password(), generate_password());
        assert_eq!(expose(&a).len(), GENERATED_PASSWORD_LEN);
        assert!(expose(&a).chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(expose(&a), expose(&b));
    }

    #[test]
    fn round_trip_returns_the_plaintext() {
        let sb = SecretBox::new(MasterKey::generate());
        let ct = sb.encrypt("s3cr3t pass", "tenant:1:password");
        assert!(ct.starts_with(&format!("v1:{}:", sb.key_id())));
        assert!(!ct.contains("s3cr3t"));
        assert_eq!(
            sb.decrypt(&ct, "tenant:1:password")
                .unwrap()
                .expose_secret(),
            "s3cr3t pass"
        );
    }

    #[test]
    fn same_plaintext_encrypts_differently_each_time() {
        let sb = SecretBox::new(MasterKey::generate());
        assert_ne!(sb.encrypt("x", "c"), sb.encrypt("x", "c"));
    }

    #[test]
    fn tampered_ciphertext_is_an_error() {
        let sb = SecretBox::new(MasterKey::generate());
        let ct = sb.encrypt("password", "ctx");
        let (head, body) = ct.rsplit_once(':').unwrap();
        let mut blob = B64.decode(body).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        let forged = format!("{head}:{}", B64.encode(blob));
        assert!(matches!(
            sb.decrypt(&forged, "ctx"),
            Err(SecretError::Decrypt)
        ));
        assert!(matches!(
            sb.decrypt("garbage", "ctx"),
            Err(SecretError::Malformed)
        ));
    }

    #[test]
    fn ciphertext_moved_to_another_context_is_an_error() {
        let sb = SecretBox::new(MasterKey::generate());
        let ct = sb.encrypt("password", "tenant:a:password");
        assert!(matches!(
            sb.decrypt(&ct, "tenant:b:password"),
            Err(SecretError::Decrypt)
        ));
    }

    #[test]
    fn wrong_key_is_an_error() {
        let a = SecretBox::new(MasterKey::generate());
        let b = SecretBox::new(MasterKey::generate());
        let ct = a.encrypt("password", "ctx");
        assert!(matches!(
            b.decrypt(&ct, "ctx"),
            Err(SecretError::UnknownKey(_))
        ));
        // Same key id but different bytes cannot happen by accident; a forged id still fails.
        let forged = ct.replacen(a.key_id(), b.key_id(), 1);
        assert!(matches!(
            b.decrypt(&forged, "ctx"),
            Err(SecretError::Decrypt)
        ));
    }

    #[test]
    fn previous_key_still_decrypts_during_rotation() {
        let old = MasterKey::generate();
        let ct = SecretBox::new(old.clone()).encrypt("pw", "ctx");
        let rotated = SecretBox::with_previous(MasterKey::generate(), vec![old]);
        assert_eq!(rotated.decrypt(&ct, "ctx").unwrap().expose_secret(), "pw");
        assert_ne!(
            SecretBox::key_id_of(&rotated.encrypt("pw", "ctx")),
            SecretBox::key_id_of(&ct)
        );
    }

    #[test]
    fn master_key_parses_hex_and_base64_and_rejects_short_keys() {
        let k = MasterKey::generate();
        assert_eq!(MasterKey::parse(&k.to_hex()).unwrap().id(), k.id());
        assert_eq!(MasterKey::parse(&B64.encode(k.bytes)).unwrap().id(), k.id());
        assert!(matches!(
            MasterKey::parse("abcd"),
            Err(SecretError::MalformedKey(_))
        ));
        assert!(format!("{k:?}").len() < 30 && !format!("{k:?}").contains(&k.to_hex()));
    }

    #[test]
    fn keyring_file_round_trips_current_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        MasterKey::write_keyring(&path, &[a.clone(), b.clone()]).unwrap();
        let ring = MasterKey::keyring_from_file(&path).unwrap();
        assert_eq!(
            ring.iter().map(|k| k.id().to_owned()).collect::<Vec<_>>(),
            [a.id(), b.id()]
        );
        let sb = SecretBox::from_keyring(ring);
        assert_eq!(sb.key_id(), a.id());
        let old = SecretBox::new(b).encrypt("pw", "ctx");
        assert_eq!(sb.decrypt(&old, "ctx").unwrap().expose_secret(), "pw");
        assert!(MasterKey::parse_keyring("# only a comment\n").is_err());
    }

    #[test]
    fn key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(matches!(
            MasterKey::from_file(&path),
            Err(SecretError::MissingKey(_))
        ));
        let k = MasterKey::create_file(&path).unwrap();
        assert_eq!(MasterKey::from_file(&path).unwrap().id(), k.id());
        assert!(MasterKey::create_file(&path).is_err());
    }
}
