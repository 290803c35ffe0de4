//! The database: SQLite (a file, the default) or PostgreSQL, through one pool.
//!
//! Queries are written once, in the SQL both understand (`$1` parameters, `RETURNING`,
//! `ON CONFLICT`). What differs is how a write transaction keeps others out:
//! - SQLite allows one writer: in one process, writers queue on a mutex (no busy-wait); across
//!   processes, `BEGIN IMMEDIATE` takes the write lock at the start, with a busy timeout.
//! - PostgreSQL: rows are locked by the statements that change them (the application's
//!   version, the envelope's conditional `UPDATE`, the audit head's conditional `UPDATE`, or
//!   `FOR UPDATE` when another process moved it).

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::audit::checkpoint::Checkpointer;
use crate::audit::{self, NewEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    writer: Arc<Mutex<()>>,
    /// The audit chain's head as this process last committed it: a write then needs one
    /// conditional UPDATE instead of a read and an update; another writer makes it miss.
    head: Arc<std::sync::Mutex<Option<(i64, String)>>>,
    /// The password verifications this server runs at once (`accounts::VERIFICATIONS`):
    /// each holds argon2's memory.
    verifications: Arc<tokio::sync::Semaphore>,
    /// Set by `serve --audit-interval 0`: every commit that grows the chain is checkpointed
    /// before it is acknowledged.
    checkpoints: Arc<std::sync::OnceLock<Arc<Checkpointer>>>,
}

/// Normalizes `sqlite:path`/`sqlite://path` and creates the file when missing.
fn sqlite_url(url: &str) -> String {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if rest.contains("mode=") {
        format!("sqlite://{rest}")
    } else if rest.contains('?') {
        format!("sqlite://{rest}&mode=rwc")
    } else {
        format!("sqlite://{rest}?mode=rwc")
    }
}

impl Db {
    /// Connects and applies the embedded migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("database URL `{url}`: use sqlite://FILE or postgres://USER@HOST/DB");
        };
        let pool = match backend {
            Backend::Sqlite => {
                writable(&sqlite_url(url))?;
                AnyPoolOptions::new()
                    .acquire_timeout(Duration::from_secs(10))
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            for pragma in [
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA foreign_keys = ON",
                                "PRAGMA busy_timeout = 10000",
                            ] {
                                conn.execute(pragma).await?;
                            }
                            Ok(())
                        })
                    })
                    .after_release(|conn, _| Box::pin(release_clean(conn)))
                    .connect(&sqlite_url(url))
                    .await
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .after_release(|conn, _| Box::pin(release_clean(conn)))
                    .connect(url)
                    .await
            }
        }
        .map_err(|e| anyhow::anyhow!("cannot open database {}: {e}", redact(url)))?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Db {
            pool,
            backend,
            writer: Arc::new(Mutex::new(())),
            head: Default::default(),
            verifications: Arc::new(tokio::sync::Semaphore::new(crate::accounts::VERIFICATIONS)),
            checkpoints: Default::default(),
        })
    }

    /// The slots of password verification: a sign-in holds one while argon2 runs.
    pub fn verification_slots(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.verifications
    }

    /// Checkpoints the chain after each commit that grows it (once per process).
    pub fn checkpoint_every_change(&self, checkpointer: Arc<Checkpointer>) {
        let _ = self.checkpoints.set(checkpointer);
    }

    /// Begins a write transaction; the events recorded on it join the audit chain at commit.
    pub async fn write(&self) -> Result<WriteTx, sqlx::Error> {
        let (guard, tx) = match self.backend {
            Backend::Sqlite => {
                let guard = self.writer.clone().lock_owned().await;
                (Some(guard), self.pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            Backend::Postgres => (None, self.pool.begin().await?),
        };
        Ok(WriteTx {
            tx,
            backend: self.backend,
            events: Vec::new(),
            head: self.head.clone(),
            checkpoints: self.checkpoints.clone(),
            _guard: guard,
        })
    }
}

/// Hides a password in a database URL for messages.
/// Whether a connection given back to the pool may serve again: not if it is still inside a
/// transaction. That happens when the database rolled a transaction back on its own (SQLite
/// does on a full disk) and the driver's ROLLBACK then failed, leaving its transaction count
/// at one: every later `BEGIN` on that connection would fail. Such a connection is closed.
async fn release_clean(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction's ROLLBACK is queued, not yet run: a ping runs after it.
    if conn.ping().await.is_err() {
        return Ok(false);
    }
    Ok(!conn.is_in_transaction())
}

/// Fails at once, with the reason, when the SQLite file or its folder cannot be written:
/// otherwise the pool would retry its connections until its timeout and then report only
/// "unable to open database file".
fn writable(url: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("sqlite://").unwrap_or(url);
    let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || options.contains("mode=ro") {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let fail = |what: &std::path::Path, e: std::io::Error| {
        anyhow::anyhow!(
            "cannot write the database {}: {e}; metroplan writes to its database file and, \
             beside it, to its -wal and -shm files: check the permissions and that the \
             filesystem is mounted read-write and not full",
            what.display()
        )
    };
    std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| fail(path, e))?;
    // The WAL and shared-memory files are created in the folder.
    let probe = folder.join(format!(".metroplan-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail(folder, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &cred[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A write transaction with the audit events it will append.
#[derive(Debug)]
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    pub backend: Backend,
    events: Vec<NewEvent>,
    head: Arc<std::sync::Mutex<Option<(i64, String)>>>,
    checkpoints: Arc<std::sync::OnceLock<Arc<Checkpointer>>>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Serialises this transaction with every other one that locks `key`, until commit: on
    /// SQLite the writer lock does already; on PostgreSQL, an advisory lock.
    pub async fn lock_key(&mut self, key: &str) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1)) IS NULL AS locked")
                .bind(key)
                .fetch_one(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    pub fn record(&mut self, event: NewEvent) {
        self.events.push(event);
    }

    /// Appends the events to the chain and commits: the chain's head is locked only for
    /// this last step, so concurrent writers on PostgreSQL overlap for everything else.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let mut new_head = None;
        if !self.events.is_empty() {
            let events = std::mem::take(&mut self.events);
            let cached = self.head.lock().expect("audit head").clone();
            let seal_all = |seq0: i64, hash0: &str| {
                let (mut seq, mut hash) = (seq0, hash0.to_string());
                let rows: Vec<audit::Sealed> = events
                    .iter()
                    .map(|e| {
                        seq += 1;
                        let row = audit::seal(e.clone(), seq, &hash);
                        hash = row.hash.clone();
                        row
                    })
                    .collect();
                (rows, seq, hash)
            };
            // Move the head first: with the cached head, one conditional UPDATE; if another
            // writer moved it (or nothing is cached), read it under a lock and move it.
            let mut sealed = None;
            if let Some((seq0, hash0)) = &cached {
                let (rows, seq, hash) = seal_all(*seq0, hash0);
                let moved = sqlx::query(
                    "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq = $3 AND hash = $4",
                )
                .bind(seq)
                .bind(&hash)
                .bind(*seq0)
                .bind(hash0)
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
                if moved == 1 {
                    sealed = Some((rows, seq, hash));
                }
            }
            let (rows, seq, hash) = match sealed {
                Some(s) => s,
                None => {
                    let lock = match self.backend {
                        Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
                        Backend::Postgres => {
                            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                        }
                    };
                    let head: AnyRow = sqlx::query(lock).fetch_one(&mut *self.tx).await?;
                    let seq0: i64 = head.try_get("seq")?;
                    let hash0: String = head.try_get("hash")?;
                    let (rows, seq, hash) = seal_all(seq0, &hash0);
                    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                        .bind(seq)
                        .bind(&hash)
                        .execute(&mut *self.tx)
                        .await?;
                    (rows, seq, hash)
                }
            };
            let mut sql = String::from(
                "INSERT INTO events (seq, application_id, actor, role, at, action, from_state, to_state, payload, reason, prev_hash, hash) VALUES ",
            );
            for i in 0..rows.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let b = i * 12;
                let params: Vec<String> = (1..=12).map(|k| format!("${}", b + k)).collect();
                sql.push_str(&format!("({})", params.join(", ")));
            }
            let mut q = sqlx::query(&sql);
            for row in rows {
                let e = row.event;
                q = q
                    .bind(row.seq)
                    .bind(e.application_id)
                    .bind(e.actor)
                    .bind(e.role)
                    .bind(e.at)
                    .bind(e.action)
                    .bind(e.from_state)
                    .bind(e.to_state)
                    .bind(e.payload)
                    .bind(e.reason)
                    .bind(row.prev_hash)
                    .bind(row.hash);
            }
            q.execute(&mut *self.tx).await?;
            new_head = Some((seq, hash));
        }
        let result = self.tx.commit().await;
        if result.is_ok() && new_head.is_some() {
            *self.head.lock().expect("audit head") = new_head.clone();
        }
        // Once the writer's lock is released: SQLite writers do not queue behind the file.
        drop(self._guard);
        if let (Ok(()), Some((seq, hash)), Some(cp)) = (&result, new_head, self.checkpoints.get()) {
            // The change is committed: a checkpoint that fails is logged, not refused.
            if let Err(e) = cp.checkpoint(seq, &hash).await {
                tracing::error!(error = %e, seq, "audit checkpoint");
            }
        }
        result
    }
}
