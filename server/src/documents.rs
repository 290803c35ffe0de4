//! Uploaded documents: accepted by content (PDF and images), stored outside the database by
//! their SHA-256, written to a temporary file and renamed, so a crash leaves no half file
//! under a hash name.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Why a file is not taken as a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// Neither a PDF nor an image the server takes.
    NotADocument,
    /// It starts as one of them but is cut short or broken (its end marker is missing), as a
    /// file cut in transfer or saved halfway is: its media type.
    Damaged(&'static str),
}

/// The media type of `bytes` when it is a whole document the server accepts: recognized by
/// its first bytes, and its end marker where the format has one (a PDF ends with `%%EOF`, a
/// PNG with its `IEND` chunk, a JPEG with its end-of-image marker, a WebP at the length its
/// header gives).
pub fn check(bytes: &[u8]) -> Result<&'static str, Unfit> {
    // Writers may leave a little after the end marker (line breaks, padding).
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    let has = |needle: &[u8]| tail.windows(needle.len()).any(|w| w == needle);
    let (media, whole) = if bytes.starts_with(b"%PDF-") {
        ("application/pdf", has(b"%%EOF"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("image/png", has(b"IEND\xaeB`\x82"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", has(&[0xFF, 0xD9]))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        let declared = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        ("image/webp", declared.saturating_add(8) <= bytes.len())
    } else {
        return Err(Unfit::NotADocument);
    };
    if whole {
        Ok(media)
    } else {
        Err(Unfit::Damaged(media))
    }
}

pub fn path_of(root: &Path, sha: &str) -> PathBuf {
    root.join(&sha[..2]).join(sha)
}

/// Stores `bytes` and returns their hash; storing the same content twice is one file.
pub async fn store(root: &Path, bytes: &[u8]) -> std::io::Result<String> {
    let sha = hex::encode(Sha256::digest(bytes));
    let path = path_of(root, &sha);
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(sha);
    }
    let dir = path.parent().expect("a hash path has a parent");
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!(".{sha}.{}", crate::tokens::random_hex(4)));
    tokio::fs::write(&tmp, bytes).await?;
    let f = tokio::fs::File::open(&tmp).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(sha)
}
