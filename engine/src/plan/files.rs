//! Where plan files come from. The engine reads files only through [`PlanSource`], so
//! that benchmarks and tests can load plans from memory and the server can confine
//! reading to its plans directory.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Read access to one plan directory. Paths are relative to the plan directory.
pub trait PlanSource {
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// Files (not directories) directly inside `dir`, as relative paths.
    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn exists(&self, path: &Path) -> bool;
    /// How the plan directory is shown in diagnostics.
    fn display_root(&self) -> PathBuf;
}

/// A plan directory on disk.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
    display: PathBuf,
}

impl DirSource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        DirSource {
            display: root.clone(),
            root,
        }
    }

    /// Reads from `root` but names files under `display` in diagnostics (stable test output).
    pub fn with_display(root: impl Into<PathBuf>, display: impl Into<PathBuf>) -> Self {
        DirSource {
            root: root.into(),
            display: display.into(),
        }
    }
}

impl PlanSource for DirSource {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(self.root.join(path))
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join(dir))? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                out.push(dir.join(entry.file_name()));
            }
        }
        Ok(out)
    }

    fn exists(&self, path: &Path) -> bool {
        self.root.join(path).is_file()
    }

    fn display_root(&self) -> PathBuf {
        self.display.clone()
    }
}

/// A plan held in memory (benchmarks, tests, generated plans).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    pub files: BTreeMap<PathBuf, String>,
    pub root: PathBuf,
}

impl MemorySource {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        MemorySource {
            files: BTreeMap::new(),
            root: root.into(),
        }
    }

    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into());
    }
}

impl PlanSource for MemorySource {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn list_files(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }

    fn exists(&self, path: &Path) -> bool {
        self.files.contains_key(path)
    }

    fn display_root(&self) -> PathBuf {
        self.root.clone()
    }
}

/// Resolves `rel` against the directory `base` (both inside the plan directory) and
/// refuses anything that would leave the plan directory: absolute paths, `..` past the
/// root, drive prefixes.
pub fn confine(base: &Path, rel: &str) -> Result<PathBuf, String> {
    let rel_path = Path::new(rel);
    let mut out: Vec<std::ffi::OsString> = Vec::new();
    for c in base.components().chain(rel_path.components()) {
        match c {
            Component::Normal(s) => out.push(s.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => {
                if out.pop().is_none() {
                    return Err(format!("`{rel}` leads outside the plan directory"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{rel}` is an absolute path: write a path relative to the plan directory"
                ));
            }
        }
    }
    Ok(out.iter().collect())
}

#[cfg(test)]
mod tests {
    use super::confine;
    use std::path::{Path, PathBuf};

    #[test]
    fn confine_refuses_escapes() {
        assert_eq!(
            confine(Path::new(""), "actions/a.toml").unwrap(),
            PathBuf::from("actions/a.toml")
        );
        assert_eq!(
            confine(Path::new("a"), "../b.toml").unwrap(),
            PathBuf::from("b.toml")
        );
        assert!(confine(Path::new(""), "../x.toml").is_err());
        assert!(confine(Path::new("a"), "../../x.toml").is_err());
        assert!(confine(Path::new(""), "/etc/passwd").is_err());
    }
}
