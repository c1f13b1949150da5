//! The admin password, kept as a digest and compared in constant time.

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(super) struct Password {
    digest: [u8; 32],
}

impl Password {
    pub(super) fn new(password: &SecretString) -> Self {
        Self {
            digest: Sha256::digest(password.expose_secret().as_bytes()).into(),
        }
    }

    /// Whether an HTTP Basic `Authorization` value carries the password (any user name).
    /// Digests are compared in constant time, so neither the password nor its length leaks.
    pub(super) fn matches(&self, authorization: Option<&str>) -> bool {
        let password = authorization
            .and_then(basic_credentials)
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

/// The credentials of a `Basic` authorization: the scheme name matched without regard to
/// case, then one or more spaces (RFC 9110 section 11.4).
fn basic_credentials(authorization: &str) -> Option<&str> {
    let (scheme, credentials) = authorization.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("basic")
        .then(|| credentials.trim_start_matches(' '))
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

    #[test]
    fn the_scheme_name_is_matched_without_regard_to_case() {
        let password = Password::new(&SecretString::from("correct horse battery".to_owned()));
        let credentials = basic("owner:correct horse battery");
        let credentials = credentials.trim_start_matches("Basic ");
        for scheme in ["basic", "BASIC", "bAsIc"] {
            let value = format!("{scheme} {credentials}");
            assert!(password.matches(Some(&value)), "{value}");
        }
        assert!(password.matches(Some(&format!("Basic   {credentials}"))));
        for other in ["Basics", "Bearer", "Basic:", ""] {
            let value = format!("{other} {credentials}");
            assert!(!password.matches(Some(&value)), "{value}");
        }
        assert!(!password.matches(Some(&format!("Basic{credentials}"))));
    }
}
