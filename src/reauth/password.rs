//! The admin password, kept as a digest and compared in constant time.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub struct Password {
    digest: [u8; 32],
}

impl Password {
    pub fn new(password: &SecretString) -> Self {
        Self {
            digest: Sha256::digest(password.expose_secret().as_bytes()).into(),
        }
    }

    /// Whether an HTTP Basic `Authorization` value carries the password (any user name).
    /// Digests are compared in constant time, so neither the password nor its length leaks.
    pub fn matches(&self, authorization: Option<&str>) -> bool {
        let password = authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| {
                base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
            })
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| {
                pair.split_once(':')
                    .map(|(_, p)| SecretString::from(p.to_owned()))
            });
        let Some(password) = password else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(password.expose_secret().as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(pair: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }

    #[test]
    fn only_the_password_in_basic_auth_matches() {
        let password = Password::new(&SecretString::from("correct horse battery".to_owned()));
        assert!(password.matches(Some(&basic("owner:correct horse battery"))));
        assert!(password.matches(Some(&basic(":correct horse battery"))));
        assert!(!password.matches(Some(&basic("owner:correct horse"))));
        assert!(!password.matches(Some(&basic("correct horse battery"))));
        assert!(!password.matches(Some("Bearer correct horse battery")));
        assert!(!password.matches(Some("Basic !!!not base64")));
        assert!(!password.matches(None));
    }
}
