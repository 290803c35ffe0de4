//! Live reload: the plans directory is polled for changes (a fingerprint of every file's path,
//! size and modification time), and SIGHUP asks for a reload. Polling needs no platform
//! notification API and sees edits made by any tool, over any file system.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::plans::PlanSet;

/// How often the files are looked at.
pub const POLL: Duration = Duration::from_millis(250);

/// Every file under `dir`: path, size, modification time.
pub fn fingerprint(dir: &Path) -> String {
    let mut entries = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(p);
            } else {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                entries.push(format!("{}\t{}\t{mtime}", p.display(), meta.len()));
            }
        }
    }
    entries.sort();
    hex::encode(Sha256::digest(entries.join("\n").as_bytes()))
}

/// Reloads the plans when their files change or on SIGHUP, until `stop` turns true.
pub async fn run(plans: PlanSet, dir: PathBuf, mut stop: watch::Receiver<bool>) {
    let mut seen = fingerprint(&dir);
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(POLL);
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let forced = tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => false,
            _ = hangup => true,
        };
        let d = dir.clone();
        let now = tokio::task::spawn_blocking(move || fingerprint(&d))
            .await
            .unwrap_or_default();
        if !forced && now == seen {
            continue;
        }
        // An editor saving several files, or one file in several writes: wait until the
        // files stay the same for one poll.
        let mut settled = now;
        loop {
            tokio::time::sleep(POLL / 2).await;
            let d = dir.clone();
            let again = tokio::task::spawn_blocking(move || fingerprint(&d))
                .await
                .unwrap_or_default();
            if again == settled {
                break;
            }
            settled = again;
        }
        seen = settled;
        tracing::info!(dir = %dir.display(), forced, "plan files changed: reloading");
        let (p, d) = (plans.clone(), dir.clone());
        let _ = tokio::task::spawn_blocking(move || p.reload(&d)).await;
    }
}
