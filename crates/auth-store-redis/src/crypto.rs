//! Secrets at rest: the key a user supplies, the sealing of token sets
//! (ChaCha20-Poly1305, bound to their Redis key and version) and the keyed hash that turns
//! credentials into a key name.

use std::fmt;

use auth_core::{Error, ErrorKind};
use base64::Engine as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::{hkdf, hmac};
use secrecy::{ExposeSecret as _, SecretBox, SecretSlice};

/// The 32-byte key token sets are encrypted under, the same in every process of a fleet.
/// Keep it where you keep other service secrets (a secret manager, an environment
/// variable); Debug prints `[REDACTED]`.
///
/// ```
/// use auth_store_redis::EncryptionKey;
/// let key = EncryptionKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// assert_eq!(format!("{key:?}"), "EncryptionKey([REDACTED])");
/// assert!(EncryptionKey::from_base64("too short").unwrap_err().is_config());
/// # Ok::<(), auth_core::Error>(())
/// ```
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl EncryptionKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        EncryptionKey(SecretBox::new(Box::new(bytes)))
    }

    /// A key from its standard base64 form (44 characters, as `openssl rand -base64 32`
    /// prints). Anything else is a `Config` error that does not quote the input.
    pub fn from_base64(encoded: &str) -> Result<Self, Error> {
        let bad = || {
            Error::new(
                ErrorKind::Config,
                "encryption key must be 32 bytes in standard base64",
            )
        };
        let decoded = SecretSlice::from(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| bad())?,
        );
        let bytes: [u8; 32] = decoded.expose_secret().try_into().map_err(|_| bad())?;
        Ok(Self::from_bytes(bytes))
    }

    /// A fresh random key (for tests, or to print once and keep).
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::new(ErrorKind::Config, "the system random source failed"))?;
        Ok(Self::from_bytes(bytes))
    }

    /// The pseudorandom key both purposes' keys are expanded from (HKDF-SHA256), so the
    /// cipher key and the identity-hash key are independent though the user supplies one.
    fn prk(&self) -> hkdf::Prk {
        hkdf::Salt::new(hkdf::HKDF_SHA256, SALT).extract(self.0.expose_secret())
    }

    fn cipher_key(&self) -> Result<UnboundKey, Error> {
        self.prk()
            .expand(&[CIPHER_INFO], &CHACHA20_POLY1305)
            .map(UnboundKey::from)
            .map_err(|_| Error::new(ErrorKind::Config, "encryption key could not be derived"))
    }

    fn identity_key(&self) -> Result<hmac::Key, Error> {
        self.prk()
            .expand(&[IDENTITY_INFO], hmac::HMAC_SHA256)
            .map(hmac::Key::from)
            .map_err(|_| Error::new(ErrorKind::Config, "identity key could not be derived"))
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([REDACTED])")
    }
}

const SALT: &[u8] = b"auth-store-redis v1";
const CIPHER_INFO: &[u8] = b"token sets";
const IDENTITY_INFO: &[u8] = b"identity keys";
/// Without an encryption key (plaintext at rest) the identity hash is still an HMAC, under
/// this public key: the key names stay fixed-length and free of credentials, but anyone who
/// can read Redis can test a guessed credential against them.
const PLAINTEXT_IDENTITY_KEY: &[u8] = b"auth-store-redis v1 plaintext identity";

/// A sealed token set starts with one of these, so a reader tells the two forms apart and
/// refuses the one it is not configured for (no downgrade to plaintext).
const SEALED: &[u8; 4] = b"va1e";
const PLAIN: &[u8; 4] = b"va1p";

/// How token sets are kept at rest: sealed under the user's key, or (opted into) in clear.
pub(crate) enum Sealer {
    // Boxed: the key schedule is large, and a store holds one sealer for its life.
    Sealed {
        key: Box<LessSafeKey>,
        rng: SystemRandom,
    },
    Plain,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sealer::Sealed { .. } => "chacha20-poly1305",
            Sealer::Plain => "plaintext",
        })
    }
}

impl Sealer {
    pub(crate) fn sealed(key: &EncryptionKey) -> Result<Self, Error> {
        Ok(Sealer::Sealed {
            key: Box::new(LessSafeKey::new(key.cipher_key()?)),
            rng: SystemRandom::new(),
        })
    }

    /// Seal `plain` for `aad` (the Redis key and the version it is published as): a blob
    /// copied to another identity or replayed as another version fails to open.
    pub(crate) fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, Error> {
        match self {
            Sealer::Plain => {
                let mut out = Vec::with_capacity(PLAIN.len() + plain.len());
                out.extend_from_slice(PLAIN);
                out.extend_from_slice(plain);
                Ok(out)
            }
            Sealer::Sealed { key, rng } => {
                let mut nonce = [0u8; NONCE_LEN];
                rng.fill(&mut nonce).map_err(|_| {
                    Error::new(ErrorKind::Transient, "the system random source failed")
                })?;
                // Sized for the tag, so sealing in place never reallocates (and leaves no
                // copy of the plaintext behind).
                let mut body = Vec::with_capacity(plain.len() + CHACHA20_POLY1305.tag_len());
                body.extend_from_slice(plain);
                key.seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    &mut body,
                )
                .map_err(|_| Error::new(ErrorKind::Config, "token set could not be sealed"))?;
                let mut out = Vec::with_capacity(SEALED.len() + NONCE_LEN + body.len());
                out.extend_from_slice(SEALED);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&body);
                Ok(out)
            }
        }
    }

    /// Open a blob sealed for `aad`. A blob of the other form, a wrong key, or a blob moved
    /// from another key or version is a `BadResponse` error: never read, never trusted.
    pub(crate) fn open(&self, blob: &[u8], aad: &[u8]) -> Result<SecretSlice<u8>, Error> {
        let refused = |why: &str| Error::new(ErrorKind::BadResponse, why.to_owned());
        match self {
            Sealer::Plain => match blob.strip_prefix(PLAIN.as_slice()) {
                Some(plain) => Ok(SecretSlice::from(plain.to_vec())),
                None => Err(refused(
                    "stored token set is encrypted, and this store has no encryption key",
                )),
            },
            Sealer::Sealed { key, .. } => {
                let Some(rest) = blob.strip_prefix(SEALED.as_slice()) else {
                    return Err(refused(
                        "stored token set is not encrypted, and this store only reads encrypted ones",
                    ));
                };
                if rest.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
                    return Err(refused("stored token set is truncated"));
                }
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| refused("stored token set is truncated"))?;
                let mut body = SecretSlice::from(sealed.to_vec());
                let len = {
                    let buf: &mut [u8] = secrecy::ExposeSecretMut::expose_secret_mut(&mut body);
                    key.open_in_place(nonce, Aad::from(aad), buf)
                        .map_err(|_| {
                            refused(
                                "stored token set does not open under this key (another key, or moved from another identity or version)",
                            )
                        })?
                        .len()
                };
                let opened = secrecy::ExposeSecret::expose_secret(&body)[..len].to_vec();
                Ok(SecretSlice::from(opened))
            }
        }
    }
}

/// The key of the identity hash: derived from the encryption key, or the public one in
/// plaintext mode.
pub(crate) fn identity_key(key: Option<&EncryptionKey>) -> Result<hmac::Key, Error> {
    match key {
        Some(k) => k.identity_key(),
        None => Ok(hmac::Key::new(hmac::HMAC_SHA256, PLAINTEXT_IDENTITY_KEY)),
    }
}

/// HMAC-SHA256 of `bytes`, its first 16 bytes in hex: 128 bits, enough that two identities
/// of one deployment never share a key.
pub(crate) fn identity_hash(key: &hmac::Key, bytes: &[u8]) -> String {
    let tag = hmac::sign(key, bytes);
    tag.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// SHA-256 of `text`, its first 8 bytes in hex: a short, fixed-length key part for names
/// that are not secret but may be long or hold characters keys should not (endpoints).
pub(crate) fn short_digest(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
