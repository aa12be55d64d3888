//! The transport interface every remote kind implements, and the directory transport.
//!
//! Calls are blocking and safe to make from many threads at once; the transfer engine supplies
//! the parallelism. A `get` stores the object in the cache only if its bytes hash to its oid.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use fs_err as fs;

use crate::data::cache::{Cache, Verified};
use crate::error::{Error, RemoteErrorKind, Result};
use crate::fsutil;
use crate::oid::Oid;

/// An object as a remote lists it.
#[derive(Debug, Clone)]
pub struct RemoteObject {
    pub oid: Oid,
    pub size: u64,
    pub modified: SystemTime,
}

pub trait Transport: Send + Sync {
    /// The remote's name, for messages.
    fn name(&self) -> &str;
    /// Where it is, for messages (never holds credentials).
    fn url(&self) -> String;
    /// Whether `push` and `gc` can write to it.
    fn writable(&self) -> bool {
        true
    }
    /// Whether listing everything beats asking per object (object stores answer a list request
    /// with 1,000 names; a directory answers `stat` in microseconds).
    fn prefers_listing(&self) -> bool {
        false
    }
    /// Does the remote hold `oid`?
    fn has(&self, oid: &Oid) -> Result<bool>;
    /// Upload the cache object at `src` (`size` bytes), calling `progress` with bytes sent.
    fn put(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()>;
    /// Download `oid` into `cache`, verified; returns its size.
    fn get(&self, oid: &Oid, cache: &Cache, progress: &dyn Fn(u64)) -> Result<u64>;
    /// Every object on the remote.
    fn list(&self) -> Result<Vec<RemoteObject>>;
    /// Remove objects (absent ones are fine).
    fn delete(&self, oid: &Oid) -> Result<()>;
    /// Check the remote answers and the credentials work, before any transfer starts.
    fn check(&self) -> Result<()>;
    /// Store a small named file (a run-cache entry: `runs/ab/cdef...`), replacing any.
    fn put_named(&self, name: &str, bytes: &[u8]) -> Result<()>;
    /// Read a small named file; `None` if it is not there.
    fn get_named(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Stream the file `name` (a `/`-separated path below the remote's root, in another tool's
    /// layout: DVC's `files/md5/ab/cdef...`) into `sink`, unverified: the caller checks what
    /// arrives. False when it is not there.
    fn read_raw(&self, name: &str, sink: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool>;
}

/// The error for a downloaded object that hashed to something else.
pub fn corrupt(remote: &str, oid: &Oid, actual: Oid) -> Error {
    Error::RemoteCorrupt {
        remote: remote.to_string(),
        oid: *oid,
        actual,
    }
}

/// A remote that is a directory: local disk, NFS, a mounted share.
pub struct DirTransport {
    name: String,
    root: PathBuf,
    /// Hard-link objects between cache and remote when both are on one file system.
    link: bool,
}

impl DirTransport {
    /// `link`: objects may be hard-linked between the cache and this remote (see `put`).
    pub fn new(name: &str, root: PathBuf, link: bool) -> DirTransport {
        DirTransport {
            name: name.to_string(),
            root,
            link,
        }
    }

    fn path(&self, oid: &Oid) -> PathBuf {
        self.root.join(oid.object_path())
    }

    fn err(&self, message: String, kind: RemoteErrorKind) -> Error {
        Error::Remote {
            remote: self.name.clone(),
            url: self.url(),
            message,
            kind,
        }
    }
}

impl Transport for DirTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn url(&self) -> String {
        self.root.display().to_string()
    }

    fn has(&self, oid: &Oid) -> Result<bool> {
        match std::fs::metadata(self.path(oid)) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.err(
                format!("cannot read `{}`: {e}", self.path(oid).display()),
                RemoteErrorKind::Other,
            )),
        }
    }

    /// Link or copy into a temporary file beside the destination, then rename: a reader (or a
    /// second pusher) never sees a partial object. On the same file system a hard link (objects
    /// are immutable and read-only on both sides, so sharing the inode is safe) — unless the
    /// work tree may hold hard links to cache objects (`cache.link` includes `hardlink`): an
    /// in-place edit there would then reach the remote. Else a reflink, else a kernel copy.
    fn put(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()> {
        let dest = self.path(oid);
        if dest.is_file() {
            progress(size);
            return Ok(());
        }
        fs::create_dir_all(dest.parent().expect("object has a parent"))?;
        let temp = fsutil::temp_path_for(&dest);
        let result = (|| -> std::io::Result<()> {
            if !(self.link && std::fs::hard_link(src, &temp).is_ok()) {
                reflink_copy::reflink_or_copy(src, &temp)?;
                fsutil::make_read_only(&temp, false)?;
            }
            std::fs::rename(&temp, &dest)
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(self.err(
                format!("cannot write `{}`: {e}", dest.display()),
                RemoteErrorKind::Other,
            ));
        }
        progress(size);
        Ok(())
    }

    fn get(&self, oid: &Oid, cache: &Cache, progress: &dyn Fn(u64)) -> Result<u64> {
        let src = self.path(oid);
        if !src.is_file() {
            return Err(self.err(
                format!("object {oid} is not there"),
                RemoteErrorKind::MissingObject,
            ));
        }
        let linked = if self.link {
            cache.insert_link_verified(&src, oid)?
        } else {
            None
        };
        let verified = match linked {
            Some(v) => v,
            None => cache.insert_file_verified(&src, oid)?,
        };
        match verified {
            Verified::Stored(size) => {
                progress(size);
                Ok(size)
            }
            Verified::Mismatch(actual) => Err(corrupt(&self.name, oid, actual)),
        }
    }

    fn list(&self) -> Result<Vec<RemoteObject>> {
        crate::data::cache::list_objects(&self.root)?
            .into_iter()
            .map(|(oid, path)| {
                let meta = fs::metadata(&path)?;
                Ok(RemoteObject {
                    oid,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                })
            })
            .collect()
    }

    fn delete(&self, oid: &Oid) -> Result<()> {
        match std::fs::remove_file(self.path(oid)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(
                format!("cannot delete `{}`: {e}", self.path(oid).display()),
                RemoteErrorKind::Other,
            )),
        }
    }

    fn put_named(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.root.join(name);
        fs::create_dir_all(dest.parent().expect("named files live in a directory"))?;
        fsutil::atomic_write(&dest, bytes, 0o644).map_err(|e| {
            self.err(
                format!("cannot write `{}`: {e}", dest.display()),
                RemoteErrorKind::Other,
            )
        })
    }

    fn get_named(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.root.join(name)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err(
                format!("cannot read `{}`: {e}", self.root.join(name).display()),
                RemoteErrorKind::Other,
            )),
        }
    }

    fn read_raw(&self, name: &str, sink: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        use std::io::Read;
        let path = self.root.join(name);
        let mut file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(self.err(
                    format!("cannot read `{}`: {e}", path.display()),
                    RemoteErrorKind::Other,
                ));
            }
        };
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf).map_err(|e| {
                self.err(
                    format!("cannot read `{}`: {e}", path.display()),
                    RemoteErrorKind::Other,
                )
            })?;
            if n == 0 {
                return Ok(true);
            }
            sink(&buf[..n])?;
        }
    }

    fn check(&self) -> Result<()> {
        if self.root.is_dir() {
            Ok(())
        } else {
            Err(self.err(
                format!("directory `{}` does not exist", self.root.display()),
                RemoteErrorKind::NoSuchStore,
            ))
        }
    }
}
