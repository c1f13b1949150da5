//! `TOKEN_FILE` as seen by the token cache: where a rotated or re-authorized refresh token
//! is kept, and where the owner may drop a new one while the server runs.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::storage::{self, StorageError, StoredToken};

pub struct TokenStore {
    path: Option<PathBuf>,
}

impl TokenStore {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self { path }
    }

    /// Writes `token` to the file; nothing to do without one.
    pub async fn save(
        &self,
        token: SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Result<(), StorageError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || storage::write_token_file(&path, &token, obtained_at)
        })
        .await;
        written.unwrap_or_else(|e| {
            Err(StorageError::Write {
                path,
                source: std::io::Error::other(e.to_string()),
            })
        })
    }

    /// [`Self::save`] for a token Spotify rotated, logging a failure loudly: the token in
    /// memory still works, but a restart would use the old one.
    pub async fn keep_rotated(&self, token: SecretString, obtained_at: Option<DateTime<Utc>>) {
        if self.path.is_none() {
            tracing::warn!(
                "the new refresh token lives in memory only: set TOKEN_FILE so it survives a restart"
            );
        } else if let Err(e) = self.save(token, obtained_at).await {
            tracing::error!(
                "could not save the new refresh token: {e}; after a restart the old token will be used and may be refused"
            );
        }
    }

    /// The token in the file, when it differs from `current`: after the credentials were
    /// refused, the owner may have put a new one there.
    pub async fn replacement_for(&self, current: &SecretString) -> Option<StoredToken> {
        let path = self.path.clone()?;
        let read = tokio::task::spawn_blocking(move || storage::read_token_file(&path)).await;
        match read {
            Ok(Ok(Some(stored)))
                if stored.refresh_token.expose_secret() != current.expose_secret() =>
            {
                Some(stored)
            }
            _ => None,
        }
    }
}
