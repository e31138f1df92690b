//! Where netlab writes files of its own (the root hints of `lab dns`): a
//! private directory per run, made with mkdtemp semantics (a fresh random name,
//! mode 0700) under `$XDG_RUNTIME_DIR` or the temporary folder. Files in it are
//! created new (`O_EXCL`) and never through a symbolic link, so a name planted
//! in /tmp by another user cannot make netlab (run as root) overwrite a file.
//! Clean-up removes only directories of this user's netlab whose process has gone.
//!
//! Files the user names (`--pcap`, `--html`) are opened by [`create_output`]:
//! never through a symbolic link, so a link planted at that name in /tmp
//! cannot turn `sudo netlab ... --pcap /tmp/x.pcapng` into an overwrite of
//! another file.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Open a file the user named for writing (a capture, a page): created or
/// emptied, mode 0644, refusing a symbolic link as its last component (a
/// named pipe or a device is fine: the data goes where the user pointed).
pub fn create_output(path: &Path) -> Result<std::fs::File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| {
            let source = if source.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::other(
                    "it is a symbolic link, and netlab does not write through links (give the file's real path)",
                )
            } else {
                source
            };
            Error::Write {
                path: path.to_path_buf(),
                source,
            }
        })
}

/// The folder private directories are made in: `$XDG_RUNTIME_DIR` when it is
/// this user's own directory, else the temporary folder.
pub fn base() -> PathBuf {
    let uid = nix::unistd::geteuid().as_raw();
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| {
            std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
        })
        .unwrap_or_else(std::env::temp_dir)
}

/// A private directory for one run; removed (with its files) when dropped.
pub struct RunDir {
    dir: tempfile::TempDir,
}

impl RunDir {
    /// Make `netlab-PURPOSE-XXXXXX` (0700) and record this process in it.
    pub fn create(purpose: &str) -> Result<RunDir> {
        let base = base();
        let dir = tempfile::Builder::new()
            .prefix(&format!("netlab-{purpose}-"))
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(|source| Error::Write { path: base, source })?;
        let d = RunDir { dir };
        d.write_new("owner.pid", &std::process::id().to_string())?;
        Ok(d)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Create the file `name` in the directory (it must not exist, and a link is
    /// never followed) and write `contents`.
    pub fn write_new(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        f.write_all(contents.as_bytes())
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        Ok(path)
    }
}

/// Remove `netlab-PURPOSE-*` directories that this user's netlab made and whose
/// process no longer runs; returns the files they held. Anything else (another
/// user's directory, a link, a directory with no owner record) is left alone.
pub fn remove_stale(purpose: &str) -> Vec<PathBuf> {
    let uid = nix::unistd::geteuid().as_raw();
    let prefix = format!("netlab-{purpose}-");
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base()) else {
        return removed;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != uid {
            continue;
        }
        let pid = std::fs::read_to_string(path.join("owner.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map(|d| d.flatten().map(|f| f.path()).collect())
            .unwrap_or_default();
        if std::fs::remove_dir_all(&path).is_ok() {
            removed.extend(files.into_iter().filter(|f| !f.ends_with("owner.pid")));
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_dir_is_private_and_files_are_new() {
        let d = RunDir::create("test").unwrap();
        let m = std::fs::metadata(d.path()).unwrap();
        assert_eq!(m.mode() & 0o777, 0o700);
        let f = d.write_new("x", "1").unwrap();
        assert!(
            d.write_new("x", "2").is_err(),
            "an existing file is never reused"
        );
        assert_eq!(std::fs::read_to_string(f).unwrap(), "1");
        // A link planted at the name is not followed.
        let target = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(target.path(), d.path().join("planted")).unwrap();
        assert!(d.write_new("planted", "pwned").is_err());
        assert_eq!(std::fs::read_to_string(target.path()).unwrap(), "");
    }
}
