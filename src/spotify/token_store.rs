//! `TOKEN_FILE` as seen by the token cache: where a rotated or re-authorized refresh token
//! is kept, and where the owner may drop a new one while the server runs (README, "The
//! token file"). The store remembers the bytes the file held when the server last read or
//! wrote it: a file that differs was changed by someone else and is adopted, never
//! overwritten; a token that could not be written waits in memory until a write succeeds.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use super::lifetime::refresh_token_expires_at;
use crate::storage::{self, AtomicWrite, StorageError, StoredToken};

/// What `/readyz` says about `TOKEN_FILE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// No token waits to be written.
    Saved,
    /// The last write failed: the token in use lives in memory only until a write succeeds.
    Unsaved,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Unsaved => "unsaved",
        }
    }
}

pub struct TokenStore {
    path: Option<PathBuf>,
    /// The file's bytes when the server last read or wrote it; `None` while it had none.
    known: Option<SecretSlice<u8>>,
    /// Failed writes since the last success; not zero while a token waits to be written.
    failures: u32,
}

impl TokenStore {
    /// The store of `path` (`None`: no `TOKEN_FILE`), taking what the file holds now as read.
    pub fn open(path: Option<PathBuf>) -> Self {
        let known = path
            .as_deref()
            .and_then(|p| storage::read_token_bytes(p).ok().flatten())
            .map(SecretSlice::from);
        Self {
            path,
            known,
            failures: 0,
        }
    }

    /// `None` without `TOKEN_FILE`.
    pub fn state(&self) -> Option<FileState> {
        self.path.as_ref().map(|_| {
            if self.failures > 0 {
                FileState::Unsaved
            } else {
                FileState::Saved
            }
        })
    }

    pub fn is_unsaved(&self) -> bool {
        self.failures > 0
    }

    /// Deletes the temporary files that interrupted writes of `path` left next to it: each
    /// holds a refresh token. For start-up only, when no write of this server is under way.
    pub fn remove_leftovers(path: &Path) {
        for (temp, removed) in storage::remove_leftover_temps(path) {
            let file = temp.display();
            match removed {
                Ok(()) => tracing::info!(
                    %file,
                    "removed a temporary file left by an interrupted write of TOKEN_FILE"
                ),
                Err(e) => tracing::warn!(
                    %file,
                    "cannot remove a temporary file left by an interrupted write of TOKEN_FILE ({e}); it holds a refresh token: delete it"
                ),
            }
        }
    }

    /// The token in the file, when someone else changed the file since the server last read
    /// or wrote it (the owner ran `now-playing auth` again). From then on it counts as read,
    /// and it supersedes any token waiting to be written.
    pub async fn changed(&mut self) -> Option<StoredToken> {
        let path = self.path.clone()?;
        let read = tokio::task::spawn_blocking({
            let path = path.clone();
            move || storage::read_token_bytes(&path)
        })
        .await;
        let bytes = match read {
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => return None,
            Ok(Err(e)) => {
                tracing::debug!("cannot look at TOKEN_FILE: {e}");
                return None;
            }
            Err(e) => {
                tracing::debug!("cannot look at TOKEN_FILE: {e}");
                return None;
            }
        };
        if self
            .known
            .as_ref()
            .is_some_and(|known| known.expose_secret() == bytes.as_slice())
        {
            return None;
        }
        let stored = match storage::decode_token_file(&path, &bytes) {
            Ok(stored) => stored,
            // Half-edited by hand, perhaps: nothing to adopt, and a write replaces it.
            Err(e) => {
                tracing::debug!("not adopting TOKEN_FILE: {e}");
                return None;
            }
        };
        let expires_at = stored
            .obtained_at
            .map(|t| refresh_token_expires_at(t).to_rfc3339_opts(SecondsFormat::Secs, true));
        tracing::info!(
            obtained_at = stored
                .obtained_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            refresh_token_expires_at = expires_at,
            dropped_unsaved_token = self.failures > 0,
            "TOKEN_FILE was changed by someone else since the server last read or wrote it (`now-playing auth` run again?): using its refresh token from now on, not overwriting it"
        );
        self.known = Some(bytes.into());
        self.failures = 0;
        Some(stored)
    }

    /// Keeps a token Spotify rotated: writes it, unless the owner changed the file meanwhile,
    /// whose token is then returned for use instead. A failed write is logged once and
    /// tried again by [`Self::sync`].
    pub async fn keep_rotated(
        &mut self,
        token: &SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Option<StoredToken> {
        if self.path.is_none() {
            tracing::warn!(
                "the new refresh token lives in memory only: set TOKEN_FILE so it survives a restart"
            );
            return None;
        }
        self.write_unless_changed(token, obtained_at).await
    }

    /// Writes a token still waiting to be written, or else looks for the owner's change;
    /// returns the owner's token when the file holds a new one.
    pub async fn sync(
        &mut self,
        token: &SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Option<StoredToken> {
        if self.is_unsaved() {
            self.write_unless_changed(token, obtained_at).await
        } else {
            self.changed().await
        }
    }

    /// Writes the token of a fresh authorization in this server, over whatever the file
    /// holds: nothing is newer. On failure the token waits to be written like a rotated one.
    pub async fn save_authorized(
        &mut self,
        token: &SecretString,
        obtained_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        if self.path.is_none() {
            return Ok(());
        }
        let written = self.write(token, Some(obtained_at)).await;
        match &written {
            Ok(()) => self.failures = 0,
            Err(_) => self.failures = self.failures.saturating_add(1),
        }
        written
    }

    async fn write_unless_changed(
        &mut self,
        token: &SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Option<StoredToken> {
        if let Some(theirs) = self.changed().await {
            return Some(theirs);
        }
        match self.write(token, obtained_at).await {
            Ok(()) if self.failures > 0 => {
                tracing::info!(
                    failed_attempts = self.failures,
                    "the refresh token is saved in TOKEN_FILE at last"
                );
                self.failures = 0;
            }
            Ok(()) => {}
            Err(e) if self.failures == 0 => {
                self.failures = 1;
                tracing::error!(
                    "could not save the new refresh token: {e}; keeping it in memory and trying again at every use and every minute (/readyz says \"token_file\": \"unsaved\" meanwhile); a restart before then would use the old token, which Spotify may refuse"
                );
            }
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                tracing::debug!("TOKEN_FILE still cannot be written: {e}");
            }
        }
        None
    }

    /// Replaces the file atomically and remembers what it now holds.
    async fn write(
        &mut self,
        token: &SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Result<(), StorageError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let body = storage::encode_token_file(token, obtained_at);
        let written = tokio::task::spawn_blocking({
            let path = path.clone();
            move || {
                (
                    AtomicWrite::prepare(&path, &body).and_then(AtomicWrite::commit),
                    body,
                )
            }
        })
        .await;
        match written {
            Ok((Ok(()), body)) => {
                self.known = Some(body.into());
                Ok(())
            }
            Ok((Err(e), _)) => Err(e),
            Err(e) => Err(StorageError::Write {
                path,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("np-token-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("token.json")
    }

    fn token(s: &str) -> SecretString {
        s.to_owned().into()
    }

    fn stored(path: &Path) -> String {
        storage::read_token_file(path)
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret()
            .to_owned()
    }

    #[tokio::test]
    async fn a_file_changed_before_a_write_is_adopted_not_overwritten() {
        let path = scratch("changed");
        storage::write_token_file(&path, &token("ours"), None).unwrap();
        let mut store = TokenStore::open(Some(path.clone()));
        let owners: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        storage::write_token_file(&path, &token("owners"), Some(owners)).unwrap();

        let adopted = store.keep_rotated(&token("ours-rotated"), None).await;
        let adopted = adopted.expect("the owner's token is returned");
        assert_eq!(adopted.refresh_token.expose_secret(), "owners");
        assert_eq!(adopted.obtained_at, Some(owners));
        assert_eq!(stored(&path), "owners");

        // Adopted means read: the rotation of the owner's token is written.
        assert!(
            store
                .keep_rotated(&token("owners-rotated"), Some(owners))
                .await
                .is_none()
        );
        assert_eq!(stored(&path), "owners-rotated");
        assert!(
            store.changed().await.is_none(),
            "its own write is no change"
        );
    }

    #[tokio::test]
    async fn the_servers_own_writes_are_never_taken_for_a_change() {
        let path = scratch("own");
        let mut store = TokenStore::open(Some(path.clone()));
        assert!(store.keep_rotated(&token("first"), None).await.is_none());
        let at: DateTime<Utc> = "2026-11-01T00:00:00.123456Z".parse().unwrap();
        store.save_authorized(&token("second"), at).await.unwrap();
        assert!(
            store
                .keep_rotated(&token("third"), Some(at))
                .await
                .is_none()
        );
        assert_eq!(stored(&path), "third");
        assert!(store.sync(&token("third"), Some(at)).await.is_none());
        assert_eq!(store.state(), Some(FileState::Saved));
    }

    #[tokio::test]
    async fn a_failed_write_waits_and_is_retried_by_sync() {
        let path = scratch("retry");
        let dir = path.parent().unwrap().to_owned();
        let mut store = TokenStore::open(Some(path.clone()));
        // A regular file where the directory should be: every write fails, as on a full disk.
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, b"").unwrap();
        assert!(store.keep_rotated(&token("rotated"), None).await.is_none());
        assert_eq!(store.state(), Some(FileState::Unsaved));
        assert!(store.sync(&token("rotated"), None).await.is_none());
        assert_eq!(store.state(), Some(FileState::Unsaved));

        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        assert!(store.sync(&token("rotated"), None).await.is_none());
        assert_eq!(store.state(), Some(FileState::Saved));
        assert_eq!(stored(&path), "rotated");
    }

    #[test]
    fn without_a_token_file_there_is_no_state() {
        assert_eq!(TokenStore::open(None).state(), None);
    }
}
