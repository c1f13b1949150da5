//! `TOKEN_FILE` as seen by the token cache: where a rotated or re-authorized refresh token
//! is kept, and where the owner may drop a new one while the server runs (README, "The
//! token file"). The store remembers the bytes the file held when the server last read or
//! wrote it: a file that differs was changed by someone else and is adopted, never
//! overwritten; a token that could not be written waits in memory until a write succeeds.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use tokio::task::JoinHandle;

use super::lifetime::refresh_token_expires_at;
use crate::storage::{self, AtomicWrite, StorageError, StoredToken};

/// What `/readyz` says about `TOKEN_FILE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileState {
    /// No token waits to be written.
    Saved,
    /// The last write failed: the token in use lives in memory only until a write succeeds.
    Unsaved,
}

impl FileState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Saved => "saved",
            Self::Unsaved => "unsaved",
        }
    }
}

pub(crate) struct TokenStore {
    path: Option<PathBuf>,
    /// The file's bytes when the server last read or wrote it; `None` while it had none.
    known: Option<SecretSlice<u8>>,
    /// A token waits to be written: set before a write starts, so that a write abandoned
    /// half-way (its caller went away) is retried like a failed one.
    unsaved: bool,
    /// Rounds since the last write in which the waiting token could not be written.
    failures: u32,
    /// The last problem logged as a warning or an error: the same one again is not.
    reported: Option<String>,
    /// A write under way, or one whose caller went away before it ended: finished first.
    in_flight: Option<InFlight>,
}

struct InFlight {
    task: JoinHandle<Result<(), StorageError>>,
    body: SecretSlice<u8>,
}

/// What the file holds, compared with what the server last read or wrote.
enum Look {
    /// The same, or no file: the server's token may be written there.
    Same,
    /// Someone else's token: it is used, not overwritten.
    Theirs(StoredToken),
    /// Something the server cannot read or understand, which may be the owner's renewal
    /// (written as another user, or half-saved by an editor): nothing is written over it.
    Blocked(StorageError),
}

impl TokenStore {
    /// The store of `path` (`None`: no `TOKEN_FILE`), taking what the file holds now as read.
    pub(crate) fn open(path: Option<PathBuf>) -> Self {
        let known = path
            .as_deref()
            .and_then(|p| storage::read_token_bytes(p).ok().flatten())
            .map(SecretSlice::from);
        Self {
            path,
            known,
            unsaved: false,
            failures: 0,
            reported: None,
            in_flight: None,
        }
    }

    /// `None` without `TOKEN_FILE`.
    pub(crate) fn state(&self) -> Option<FileState> {
        self.path.as_ref().map(|_| {
            if self.unsaved {
                FileState::Unsaved
            } else {
                FileState::Saved
            }
        })
    }

    pub(crate) fn is_unsaved(&self) -> bool {
        self.unsaved
    }

    /// The token in use is new and waits to be written. Callers mark it before they start
    /// the write, so that it stays marked if they are dropped before the write ends.
    pub(crate) fn mark_unsaved(&mut self) {
        if self.path.is_some() {
            self.unsaved = true;
        }
    }

    /// Deletes the temporary files that interrupted writes of `path` left next to it: each
    /// holds a refresh token. For start-up only, when no write of this server is under way.
    pub(crate) fn remove_leftovers(path: &Path) {
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
    pub(crate) async fn changed(&mut self) -> Option<StoredToken> {
        match self.look().await {
            Look::Same => {
                if !self.unsaved {
                    self.reported = None;
                }
                None
            }
            Look::Theirs(stored) => Some(stored),
            Look::Blocked(e) => {
                let message = format!(
                    "cannot look at TOKEN_FILE for a token renewed by someone else: {e}; looking again at every refresh and every minute"
                );
                if self.is_news(&message) {
                    tracing::warn!("{message}");
                }
                None
            }
        }
    }

    async fn look(&mut self) -> Look {
        let Some(path) = self.path.clone() else {
            return Look::Same;
        };
        self.settle().await;
        let read = tokio::task::spawn_blocking({
            let path = path.clone();
            move || storage::read_token_bytes(&path)
        })
        .await;
        let bytes = match read {
            Ok(Ok(Some(bytes))) => bytes,
            Ok(Ok(None)) => return Look::Same,
            // A path whose directory is not one holds no file, nor anyone's renewal.
            Ok(Err(StorageError::Read { source, .. }))
                if source.kind() == std::io::ErrorKind::NotADirectory =>
            {
                return Look::Same;
            }
            Ok(Err(e)) => return Look::Blocked(e),
            Err(e) => {
                return Look::Blocked(StorageError::Read {
                    path,
                    source: std::io::Error::other(e.to_string()),
                });
            }
        };
        if self
            .known
            .as_ref()
            .is_some_and(|known| known.expose_secret() == bytes.as_slice())
        {
            return Look::Same;
        }
        let stored = match storage::decode_token_file(&path, &bytes) {
            Ok(stored) => stored,
            Err(e) => return Look::Blocked(e),
        };
        let expires_at = stored
            .obtained_at
            .map(|t| refresh_token_expires_at(t).to_rfc3339_opts(SecondsFormat::Secs, true));
        tracing::info!(
            obtained_at = stored
                .obtained_at
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            refresh_token_expires_at = expires_at,
            dropped_unsaved_token = self.unsaved,
            "TOKEN_FILE was changed by someone else since the server last read or wrote it (`now-playing auth` run again?): using its refresh token from now on, not overwriting it"
        );
        self.known = Some(bytes.into());
        self.unsaved = false;
        self.failures = 0;
        self.reported = None;
        Look::Theirs(stored)
    }

    /// Keeps a token Spotify rotated: writes it, unless the owner changed the file meanwhile,
    /// whose token is then returned for use instead. A failed write is logged once and
    /// tried again by [`Self::sync`].
    pub(crate) async fn keep_rotated(
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
        self.mark_unsaved();
        self.write_unless_changed(token, obtained_at).await
    }

    /// Writes a token still waiting to be written, or else looks for the owner's change;
    /// returns the owner's token when the file holds a new one.
    pub(crate) async fn sync(
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
    pub(crate) async fn save_authorized(
        &mut self,
        token: &SecretString,
        obtained_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        if self.path.is_none() {
            return Ok(());
        }
        self.mark_unsaved();
        let written = self.write(token, Some(obtained_at)).await;
        match &written {
            Ok(()) => self.saved(),
            Err(_) => self.failures = self.failures.saturating_add(1),
        }
        written
    }

    async fn write_unless_changed(
        &mut self,
        token: &SecretString,
        obtained_at: Option<DateTime<Utc>>,
    ) -> Option<StoredToken> {
        match self.look().await {
            Look::Same => {}
            Look::Theirs(theirs) => return Some(theirs),
            Look::Blocked(e) => {
                self.failures = self.failures.saturating_add(1);
                let message = format!(
                    "not writing the new refresh token over TOKEN_FILE, which may hold a token renewed by someone else: {e}; keeping it in memory and trying again at every use and every minute (/readyz says \"token_file\": \"unsaved\" meanwhile). Make the file readable by the server, or fix or delete it"
                );
                if self.is_news(&message) {
                    tracing::warn!("{message}");
                }
                return None;
            }
        }
        match self.write(token, obtained_at).await {
            Ok(()) => self.saved(),
            Err(e) => {
                self.failures = self.failures.saturating_add(1);
                let message = format!(
                    "could not save the new refresh token: {e}; keeping it in memory and trying again at every use and every minute (/readyz says \"token_file\": \"unsaved\" meanwhile); a restart before then would use the old token, which Spotify may refuse"
                );
                if self.is_news(&message) {
                    tracing::error!("{message}");
                }
            }
        }
        None
    }

    fn saved(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failed_attempts = self.failures,
                "the refresh token is saved in TOKEN_FILE at last"
            );
        }
        self.unsaved = false;
        self.failures = 0;
        self.reported = None;
    }

    /// Whether `message` differs from the problem logged last, which it becomes: a problem
    /// that persists is logged once, not at every use and every minute.
    fn is_news(&mut self, message: &str) -> bool {
        if self.reported.as_deref() == Some(message) {
            tracing::debug!("TOKEN_FILE: the same problem again");
            false
        } else {
            self.reported = Some(message.to_owned());
            true
        }
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
        self.settle().await;
        let body = storage::encode_token_file(token, obtained_at);
        let task = tokio::task::spawn_blocking({
            let body = body.clone();
            move || AtomicWrite::prepare(&path, &body).and_then(AtomicWrite::commit)
        });
        self.in_flight = Some(InFlight {
            task,
            body: body.into(),
        });
        self.settle().await.unwrap_or(Ok(()))
    }

    /// Waits for the write in flight, if any, and remembers what it wrote. A write whose
    /// caller went away still runs to its end on its thread; it is finished here before the
    /// file is looked at or written again, so that it can neither land over a later write
    /// nor be taken for someone else's change.
    async fn settle(&mut self) -> Option<Result<(), StorageError>> {
        let flight = self.in_flight.as_mut()?;
        let ended = (&mut flight.task).await;
        let flight = self.in_flight.take()?;
        let result = match ended {
            Ok(result) => result,
            Err(e) => Err(StorageError::Write {
                path: self.path.clone().unwrap_or_default(),
                source: std::io::Error::other(e.to_string()),
            }),
        };
        if result.is_ok() {
            self.known = Some(flight.body);
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests;
