//! Where netlab writes files of its own (the root hints of `lab dns`): a
//! private directory per run, made with mkdtemp semantics (a fresh random name,
//! mode 0700) under `$XDG_RUNTIME_DIR` or the temporary folder. Files in it are
//! created new (`O_EXCL`) and never through a symbolic link, so a name planted
//! in /tmp by another user cannot make netlab (run as root) overwrite a file.
//! Clean-up removes only directories of this user's netlab whose process has gone.
//!
//! Files the user names (`--pcap`, `--html`) are an [`Output`]: written to a
//! temporary file beside the name and renamed over it when the run ends well,
//! never through a symbolic link, so a link planted at that name in /tmp
//! cannot turn `sudo netlab ... --pcap /tmp/x.pcapng` into an overwrite of
//! another file, and a run that fails leaves the old file whole.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file the user named for writing (a capture, a page).
///
/// A regular file (or a new one) is written to a temporary file beside it and
/// renamed over it by [`Output::commit`] when the run ends well: a run that
/// fails or is interrupted leaves the old file as it was, and the rename never
/// follows a link planted at the name. A named pipe or a device (`/dev/stdout`,
/// `/dev/full`) is written directly: a pipe with no reader is an error at
/// once, not a hang.
pub struct Output {
    path: PathBuf,
    kind: OutKind,
}

enum OutKind {
    Temp(tempfile::NamedTempFile),
    Direct(std::fs::File),
}

impl Output {
    /// Check `path` can be written and open what will be written (nothing is
    /// replaced yet). A symbolic link as the last component is refused.
    pub fn create(path: &Path) -> Result<Output> {
        let err = |source: std::io::Error| Error::Write {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::symlink_metadata(path).ok();
        if meta.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
            return Err(err(std::io::Error::other(
                "it is a symbolic link, and netlab does not write through links (give the file's real path)",
            )));
        }
        if let Some(m) = meta.as_ref().filter(|m| !m.is_file()) {
            if m.is_dir() {
                return Err(err(std::io::Error::from_raw_os_error(libc::EISDIR)));
            }
            // A FIFO without a reader: ENXIO at once (O_NONBLOCK), instead of
            // blocking the run until someone opens the other end.
            let f = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(path)
                .map_err(|e| {
                    if e.raw_os_error() == Some(libc::ENXIO) {
                        err(std::io::Error::other(
                            "a named pipe with no reader: start the reader first",
                        ))
                    } else {
                        err(e)
                    }
                })?;
            // Writes may block from here on, as to any pipe.
            let fd = std::os::fd::AsFd::as_fd(&f);
            let flags =
                nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| err(e.into()))?;
            let flags =
                nix::fcntl::OFlag::from_bits_truncate(flags) & !nix::fcntl::OFlag::O_NONBLOCK;
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(flags))
                .map_err(|e| err(e.into()))?;
            return Ok(Output {
                path: path.to_path_buf(),
                kind: OutKind::Direct(f),
            });
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".netlab-part")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)
            .map_err(err)?;
        Ok(Output {
            path: path.to_path_buf(),
            kind: OutKind::Temp(tmp),
        })
    }

    /// The file to write to.
    pub fn file(&mut self) -> &mut std::fs::File {
        match &mut self.kind {
            OutKind::Temp(t) => t.as_file_mut(),
            OutKind::Direct(f) => f,
        }
    }

    /// The name the user gave.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run ended well: put the file in place (an atomic rename).
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let err = |source: std::io::Error| Error::Write {
            path: path.clone(),
            source,
        };
        match self.kind {
            OutKind::Temp(t) => {
                t.as_file().sync_all().map_err(err)?;
                t.persist(&path).map(|_| ()).map_err(|e| err(e.error))
            }
            OutKind::Direct(mut f) => std::io::Write::flush(&mut f).map_err(err),
        }
    }
}

/// Read a text file the user named as input, whole, with a cap: a regular
/// file only (a pipe, a device such as /dev/zero, or a folder is refused
/// with a clear error instead of a hang or an endless read), `-` for standard
/// input; at most `limit` bytes; a UTF-8 byte-order mark is dropped.
pub fn read_input(path: &Path, limit: u64, what: &crate::text::Text) -> Result<String> {
    use std::io::Read as _;
    let refuse = |en: String, zh: String| {
        Error::usage(crate::text::tx(
            format!("{} {}: {en}", what.en, path.display()),
            format!("{} {}：{zh}", what.zh, path.display()),
        ))
    };
    let mut bytes = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut bytes)
    } else {
        let m = std::fs::metadata(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        use std::os::unix::fs::FileTypeExt as _;
        let t = m.file_type();
        // A folder, a pipe or a socket could block or mean nothing; a device
        // (/dev/null as an empty file) is read, but never more than 1 MiB of
        // it, so /dev/zero ends at once with "larger than".
        if !(m.is_file() || t.is_char_device() || t.is_block_device()) {
            return Err(refuse(
                "not a regular file (a folder, pipe or socket is not read)".into(),
                "不是普通文件（不读取目录、管道或套接字）".into(),
            ));
        }
        let cap = if m.is_file() {
            limit
        } else {
            limit.min(1 << 20)
        };
        let read = std::fs::File::open(path).and_then(|f| f.take(cap + 1).read_to_end(&mut bytes));
        if read.is_ok() && bytes.len() as u64 > cap {
            return Err(refuse(
                format!(
                    "larger than netlab reads ({} MiB at most)",
                    cap.max(1 << 20) >> 20
                ),
                format!(
                    "超过 netlab 读取的上限（最多 {} MiB）",
                    cap.max(1 << 20) >> 20
                ),
            ));
        }
        read
    };
    read.map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.len() as u64 > limit {
        return Err(refuse(
            format!("larger than netlab reads ({} MiB at most)", limit >> 20),
            format!("超过 netlab 读取的上限（最多 {} MiB）", limit >> 20),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        refuse(
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            format!(
                "不是 UTF-8 文本（第 {} 字节）",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}

/// Whether two paths name the same file: the same (device, inode) when
/// both exist, else the same absolute path.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
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
