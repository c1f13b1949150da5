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
    read_token_bytes(path)?
        .map(|bytes| decode_token_file(path, &bytes))
        .transpose()
}

/// The token file's bytes as they are on disk; `Ok(None)` when it does not exist yet.
pub(crate) fn read_token_bytes(path: &Path) -> Result<Option<Vec<u8>>, StorageError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StorageError::Read {
            path: path.into(),
            source,
        }),
    }
}

/// Parses the bytes of the token file at `path` (named in errors only).
pub(crate) fn decode_token_file(path: &Path, bytes: &[u8]) -> Result<StoredToken, StorageError> {
    // Only the kind and place of the problem: serde's messages can quote the input, and
    // the input is a secret.
    let token: StoredToken = serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt {
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
    Ok(token)
}

/// The bytes [`write_token_file`] writes for this token.
pub(crate) fn encode_token_file(
    refresh_token: &SecretString,
    obtained_at: Option<DateTime<Utc>>,
) -> Vec<u8> {
    serde_json::to_vec_pretty(&StoredTokenOut {
        refresh_token: refresh_token.expose_secret(),
        obtained_at: obtained_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    })
    .expect("strings serialise")
}

/// Replaces the token file atomically.
pub fn write_token_file(
    path: &Path,
    refresh_token: &SecretString,
    obtained_at: Option<DateTime<Utc>>,
) -> Result<(), StorageError> {
    AtomicWrite::prepare(path, &encode_token_file(refresh_token, obtained_at))?.commit()
}

/// Sets `KEY=value` for each pair in a `.env` file, in place: lines for those keys are
/// replaced (the first occurrence; later duplicates dropped), every other line and comment
/// is kept, missing keys are appended. The file is created if missing.
pub(crate) fn update_env_file(path: &Path, pairs: &[(&str, &str)]) -> Result<(), StorageError> {
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

/// Random bytes in a temporary file's name, written as hex.
const TEMP_RANDOM_BYTES: usize = 6;

/// The directory of `target`'s temporary files and the name they are made from:
/// `.{name}.{12 hex digits}.tmp`.
fn temp_place(target: &Path) -> (&Path, &str) {
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    (dir, name)
}

/// Whether `candidate` is the name of one of [`AtomicWrite`]'s temporary files for a target
/// named `name`.
fn is_temp_of(candidate: &str, name: &str) -> bool {
    candidate
        .strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(name))
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
        .is_some_and(|hex| {
            hex.len() == 2 * TEMP_RANDOM_BYTES
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// Removes the temporary files that interrupted writes of `target` left next to it (a
/// crash between writing and renaming leaves one, holding what was being written). Only
/// regular files named exactly like [`AtomicWrite`]'s are touched. Returns each file tried
/// and whether it went; nothing when the directory cannot be listed.
pub(crate) fn remove_leftover_temps(target: &Path) -> Vec<(PathBuf, std::io::Result<()>)> {
    let (dir, name) = temp_place(target);
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| is_temp_of(n, name))
        })
        .map(|entry| {
            let path = entry.path();
            let removed = fs::remove_file(&path);
            (path, removed)
        })
        .collect()
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
        let (dir, name) = temp_place(target);
        let mut random = [0u8; TEMP_RANDOM_BYTES];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_are_recognised_by_their_exact_name() {
        assert!(is_temp_of(".token.json.0a1b2c3d4e5f.tmp", "token.json"));
        for other in [
            "token.json",
            ".token.json.tmp",
            ".token.json.0a1b2c3d4e5.tmp",
            ".token.json.0a1b2c3d4e5f0.tmp",
            ".token.json.0A1B2C3D4E5F.tmp",
            ".token.json.0a1b2c3d4e5g.tmp",
            ".token.json.0a1b2c3d4e5f.tmp.bak",
            ".other.json.0a1b2c3d4e5f.tmp",
            ".token.jsonx.0a1b2c3d4e5f.tmp",
            "..env.0a1b2c3d4e5f.tmp",
        ] {
            assert!(!is_temp_of(other, "token.json"), "{other}");
        }
    }

    #[test]
    fn the_temporary_name_made_is_the_one_recognised() {
        let dir = std::env::temp_dir().join(format!("np-storage-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("token.json");
        let write = AtomicWrite::prepare(&target, b"{}").unwrap();
        let temp = write.temp_path().to_owned();
        write.abandon();
        let name = temp.file_name().unwrap().to_str().unwrap();
        assert!(is_temp_of(name, "token.json"), "{name}");
        let removed = remove_leftover_temps(&target);
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0, temp);
        assert!(!temp.exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_file_written_is_the_file_read() {
        let obtained: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
        let bytes = encode_token_file(&"a-token".to_owned().into(), Some(obtained));
        let read = decode_token_file(Path::new("t.json"), &bytes).unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "a-token");
        assert_eq!(read.obtained_at, Some(obtained));
    }
}
