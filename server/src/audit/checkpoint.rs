//! Checkpoints of the chain's head, kept outside the database: one JSON line each, appended to
//! a file, signed with an Ed25519 key the database does not hold and, when an authority is
//! configured, time-stamped (RFC 3161). Whoever can write the database can recompute every
//! hash and the head row, but cannot sign: a rewritten, truncated or emptied trail then
//! disagrees with a checkpoint (`audit verify`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::tsa;
use crate::store::Db;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not an audit key (64 hexadecimal digits, as `metroplan audit keygen` writes)")]
    Key(PathBuf),
    #[error("`{0}`: not a public key (64 hexadecimal digits, or a file holding them)")]
    PublicKey(String),
    #[error("reading the audit head: {0}")]
    Db(#[from] sqlx::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of the checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last event of the chain when it was taken, and its hash.
    pub seq: i64,
    pub hash: String,
    /// When it was taken (the server's real clock, RFC 3339).
    pub at: String,
    /// Ed25519 over [`Checkpoint::message`], hexadecimal.
    pub signature: String,
    /// An RFC 3161 token stamping the SHA-256 of the message (base64 DER), when an authority
    /// was configured and answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa: Option<String>,
}

impl Checkpoint {
    /// The bytes signed and time-stamped: text, so that an operator can rebuild them.
    pub fn message(seq: i64, hash: &str, at: &str) -> Vec<u8> {
        format!("metroplan audit checkpoint\nseq {seq}\nhash {hash}\nat {at}\n").into_bytes()
    }

    pub fn sign(key: &SigningKey, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let signature = key.sign(&Checkpoint::message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.into(),
            at: at.into(),
            signature: hex::encode(signature.to_bytes()),
            tsa: None,
        }
    }

    /// Whether `key` signed this checkpoint as it reads.
    pub fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Ok(bytes) = hex::decode(&self.signature) else {
            return false;
        };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        key.verify_strict(
            &Checkpoint::message(self.seq, &self.hash, &self.at),
            &signature,
        )
        .is_ok()
    }

    /// What its time stamp says, if it has one that reads.
    pub fn stamped(&self) -> Option<Result<tsa::Stamped, tsa::TsaError>> {
        let token = self.tsa.as_ref()?;
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .map_err(|_| tsa::TsaError::Malformed("not base64"))
                .and_then(|der| tsa::stamped(&der)),
        )
    }
}

/// A new key, written to `path` (owner-only) as hexadecimal; its public half.
pub fn keygen(path: &Path) -> Result<VerifyingKey, CheckpointError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system's random source is available");
    let key = SigningKey::from_bytes(&secret);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io(path))?;
    writeln!(file, "{}", hex::encode(secret)).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(key.verifying_key())
}

pub fn read_key(path: &Path) -> Result<SigningKey, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CheckpointError::Key(path.into()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// A public key given as its hexadecimal digits or as a file holding them.
pub fn public_key(given: &str) -> Result<VerifyingKey, CheckpointError> {
    let text = match std::fs::read_to_string(given) {
        Ok(t) => t,
        Err(_) => given.to_string(),
    };
    hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| CheckpointError::PublicKey(given.into()))
}

/// A line of the checkpoint file: a checkpoint, or what is there instead.
pub type Line = Result<Checkpoint, String>;

/// Every line of the file (a missing file has none).
pub fn read(path: &Path) -> Result<Vec<Line>, CheckpointError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io(path)(e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|_| l.to_string()))
        .collect())
}

/// Writes checkpoints as the chain grows.
#[derive(Debug)]
pub struct Checkpointer {
    key: SigningKey,
    path: PathBuf,
    tsa_url: Option<String>,
    /// The last head checkpointed: a head already covered is not written again.
    last: tokio::sync::Mutex<Option<i64>>,
    /// Checkpoint after every commit rather than at an interval.
    pub every_change: bool,
}

impl Checkpointer {
    pub fn new(
        key: SigningKey,
        path: PathBuf,
        tsa_url: Option<String>,
        every_change: bool,
    ) -> Result<Checkpointer, CheckpointError> {
        let last = read(&path)?
            .into_iter()
            .filter_map(Result::ok)
            .map(|c| c.seq)
            .max();
        // Fails now, not at the first checkpoint, when the file cannot be written.
        append_line(&path, None)?;
        Ok(Checkpointer {
            key,
            path,
            tsa_url,
            last: tokio::sync::Mutex::new(last),
            every_change,
        })
    }

    /// Checkpoints the head `(seq, hash)` unless a checkpoint already covers it. An
    /// authority that fails leaves the checkpoint signed without a stamp (and a warning):
    /// filings go on, and the next checkpoint tries again.
    pub async fn checkpoint(
        &self,
        seq: i64,
        hash: &str,
    ) -> Result<Option<Checkpoint>, CheckpointError> {
        let mut last = self.last.lock().await;
        if last.is_some_and(|l| l >= seq) {
            return Ok(None);
        }
        let at = jiff::Timestamp::now().to_string();
        let mut c = Checkpoint::sign(&self.key, seq, hash, &at);
        if let Some(url) = &self.tsa_url {
            match tsa::stamp(url, &Checkpoint::message(seq, hash, &at)).await {
                Ok(token) => {
                    c.tsa = Some(base64::engine::general_purpose::STANDARD.encode(token));
                }
                Err(e) => {
                    tracing::warn!(error = %e, seq, "checkpoint written without a time stamp")
                }
            }
        }
        append_line(&self.path, Some(&c))?;
        *last = Some(seq);
        Ok(Some(c))
    }

    /// Checkpoints the head as the database holds it (other processes may have moved it).
    pub async fn checkpoint_head(&self, db: &Db) -> Result<Option<Checkpoint>, CheckpointError> {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&db.pool)
            .await?;
        let seq: i64 = head.try_get("seq")?;
        let hash: String = head.try_get("hash")?;
        if seq == 0 {
            return Ok(None);
        }
        self.checkpoint(seq, &hash).await
    }
}

/// Appends one line and makes it durable (O_APPEND: lines of several processes do not
/// overwrite each other); `None` only opens the file.
fn append_line(path: &Path, c: Option<&Checkpoint>) -> Result<(), CheckpointError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    if let Some(c) = c {
        let mut line = serde_json::to_string(c).expect("a checkpoint serializes");
        line.push('\n');
        file.write_all(line.as_bytes()).map_err(io(path))?;
        file.sync_data().map_err(io(path))?;
    }
    Ok(())
}

/// Runs the checkpoints of `serve`: every `every` (and once more when the server stops).
pub async fn run(
    db: Db,
    cp: std::sync::Arc<Checkpointer>,
    every: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stopping = tokio::select! {
            _ = tokio::time::sleep(every) => false,
            _ = stop.changed() => true,
        };
        if let Err(e) = cp.checkpoint_head(&db).await {
            tracing::warn!(error = %e, "audit checkpoint");
        }
        if stopping {
            return;
        }
    }
}

/// A checkpoint file that cannot be trusted as it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileBreak {
    #[error("checkpoint file, line {line}: not a checkpoint (the file was edited)")]
    NotACheckpoint { line: usize },
    #[error(
        "checkpoint file, line {line} (event {seq}): the signature does not match (the line was edited, or signed with another key)"
    )]
    Signature { line: usize, seq: i64 },
    #[error(
        "checkpoint file, line {line} (event {seq}): its time stamp is not of this checkpoint (the line was edited)"
    )]
    Stamp { line: usize, seq: i64 },
    #[error(
        "checkpoint file: two signed checkpoints of event {seq} record different hashes (the trail was rewritten between {first} and {second})"
    )]
    Conflict {
        seq: i64,
        first: String,
        second: String,
    },
}

/// The checkpoints `key` signed, by event, and what is wrong with the file.
pub fn check(
    lines: &[Line],
    key: &VerifyingKey,
) -> (BTreeMap<i64, super::Checkpointed>, Vec<FileBreak>) {
    use sha2::Digest as _;
    let mut good: BTreeMap<i64, super::Checkpointed> = BTreeMap::new();
    let mut breaks = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let line = i + 1;
        let Ok(c) = l else {
            breaks.push(FileBreak::NotACheckpoint { line });
            continue;
        };
        if !c.signed_by(key) {
            breaks.push(FileBreak::Signature { line, seq: c.seq });
            continue;
        }
        if let Some(stamp) = c.stamped() {
            let digest = sha2::Sha256::digest(Checkpoint::message(c.seq, &c.hash, &c.at));
            if !stamp.is_ok_and(|s| s.imprint[..] == digest[..]) {
                breaks.push(FileBreak::Stamp { line, seq: c.seq });
                continue;
            }
        }
        match good.get(&c.seq) {
            Some(seen) if seen.hash != c.hash => breaks.push(FileBreak::Conflict {
                seq: c.seq,
                first: seen.at.clone(),
                second: c.at.clone(),
            }),
            Some(_) => {}
            None => {
                good.insert(
                    c.seq,
                    super::Checkpointed {
                        hash: c.hash.clone(),
                        at: c.at.clone(),
                    },
                );
            }
        }
    }
    (good, breaks)
}
