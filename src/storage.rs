//! Secrets on disk: the token file (`TOKEN_FILE`) and `.env` updates by `now-playing auth`.
//! Every write is atomic: a temporary file in the same directory, written, synced, mode 0600,
//! then renamed over the target, so a crash leaves either the old file or the new one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The token file: `{"refresh_token": "...", "obtained_at": "RFC 3339"}`.
#[derive(Deserialize)]
pub struct StoredToken {
    pub refresh_token: SecretString,
    pub obtained_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("refresh_token", &"[REDACTED]")
            .field("obtained_at", &self.obtained_at)
            .finish()
    }
}

#[derive(Serialize)]
struct StoredTokenOut<'a> {
    refresh_token: &'a str,
    obtained_at: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not a token file ({{\"refresh_token\": \"...\", \"obtained_at\": \"RFC 3339\"}}): {reason}"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads the token file; `Ok(None)` when it does not exist yet.
pub fn read_token_file(path: &Path) -> Result<Option<StoredToken>, StorageError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StorageError::Read {
                path: path.into(),
                source,
            });
        }
    };
    // Only the kind and place of the problem: serde's messages can quote the input, and
    // the input is a secret.
    let token: StoredToken = serde_json::from_slice(&bytes).map_err(|e| StorageError::Corrupt {
        path: path.into(),
        reason: format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ),
    })?;
    if token.refresh_token.expose_secret().trim().is_empty() {
        return Err(StorageError::Corrupt {
            path: path.into(),
            reason: "refresh_token is empty".into(),
        });
    }
    Ok(Some(token))
}

/// Replaces the token file atomically.
pub fn write_token_file(
    path: &Path,
    refresh_token: &SecretString,
    obtained_at: Option<DateTime<Utc>>,
) -> Result<(), StorageError> {
    let body = serde_json::to_vec_pretty(&StoredTokenOut {
        refresh_token: refresh_token.expose_secret(),
        obtained_at: obtained_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    })
    .expect("strings serialise");
    AtomicWrite::prepare(path, &body)?.commit()
}

/// Sets `KEY=value` for each pair in a `.env` file, in place: lines for those keys are
/// replaced (the first occurrence; later duplicates dropped), every other line and comment
/// is kept, missing keys are appended. The file is created if missing.
pub fn update_env_file(path: &Path, pairs: &[(&str, &str)]) -> Result<(), StorageError> {
    let existing = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(StorageError::Read {
                path: path.into(),
                source,
            });
        }
    };
    let key_of = |line: &str| {
        let line = line.trim_start();
        let line = line.strip_prefix("export ").unwrap_or(line);
        line.split_once('=').map(|(k, _)| k.trim().to_owned())
    };
    let mut done = vec![false; pairs.len()];
    let mut out = String::new();
    for line in existing.lines() {
        let matched = key_of(line).and_then(|key| pairs.iter().position(|(k, _)| *k == key));
        match matched {
            Some(i) if !done[i] => {
                done[i] = true;
                out.push_str(&format!("{}={}\n", pairs[i].0, pairs[i].1));
            }
            Some(_) => {}
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (i, (key, value)) in pairs.iter().enumerate() {
        if !done[i] {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    AtomicWrite::prepare(path, out.as_bytes())?.commit()
}

/// A write in two steps, so that tests can stop between them as a crash would: the new
/// content is complete and synced in a temporary file before it replaces the target.
pub struct AtomicWrite {
    target: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl AtomicWrite {
    /// Writes and syncs `contents` to a temporary file (mode 0600) next to `target`.
    pub fn prepare(target: &Path, contents: &[u8]) -> Result<Self, StorageError> {
        let error = |source| StorageError::Write {
            path: target.into(),
            source,
        };
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file");
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| error(std::io::Error::other(e.to_string())))?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let temp = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(error)?;
        let written = file.write_all(contents).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(error(e));
        }
        Ok(Self {
            target: target.into(),
            temp,
            committed: false,
        })
    }

    /// Renames the temporary file over the target and syncs the directory.
    pub fn commit(mut self) -> Result<(), StorageError> {
        let error = |source| StorageError::Write {
            path: self.target.clone(),
            source,
        };
        fs::rename(&self.temp, &self.target).map_err(error)?;
        self.committed = true;
        if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Makes the rename itself durable; not possible on every platform, so best effort.
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Leaves the temporary file behind without renaming it, as a crash would.
    pub fn abandon(mut self) {
        self.committed = true;
    }
}

impl Drop for AtomicWrite {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
