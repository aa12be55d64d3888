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
    /// Upload the cache object at `src` (`size` bytes), calling `progress` with bytes sent. The
    /// bytes are hashed on the way: a local object that does not hash to `oid` is refused
    /// ([`Error::CorruptObject`]) and nothing is stored under its name.
    fn put(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()>;
    /// Upload over an object the remote has but holds damaged (`push --verify`). Object stores
    /// overwrite on every put; a directory must replace its file.
    fn replace(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()> {
        self.put(oid, src, size, progress)
    }
    /// What the remote's copy of `oid` hashes to (`None`: not there). Reads the whole object.
    fn hash_of(&self, oid: &Oid) -> Result<Option<Oid>>;
    /// Called once a push is done (a directory remote sweeps temp files of killed pushes).
    fn after_push(&self) {}
    /// Before a push: create the store if that is how this kind of remote starts (a directory
    /// that does not exist yet, like DVC and rclone do). True when something was created.
    fn create_for_push(&self) -> Result<bool> {
        Ok(false)
    }
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
    /// Remove a small named file (an absent one is fine).
    fn delete_named(&self, name: &str) -> Result<()>;
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

/// Hash the local object at `path` and fail unless it is `oid`: nothing corrupt is published.
pub fn check_local(oid: &Oid, path: &Path) -> Result<()> {
    let (actual, _) = crate::data::cache::hash_file(path)?;
    if actual != *oid {
        return Err(Error::CorruptObject { oid: *oid, actual });
    }
    Ok(())
}

/// A remote that is a directory: local disk, NFS, a mounted share.
pub struct DirTransport {
    name: String,
    root: PathBuf,
    /// Hard-link objects between cache and remote when both are on one file system.
    link: bool,
    /// Fan-out directories this process wrote to (swept of stale temp files after a push).
    touched: std::sync::Mutex<std::collections::HashSet<PathBuf>>,
}

impl DirTransport {
    /// `link`: objects may be hard-linked between the cache and this remote (see `put`).
    pub fn new(name: &str, root: PathBuf, link: bool) -> DirTransport {
        DirTransport {
            name: name.to_string(),
            root,
            link,
            touched: Default::default(),
        }
    }

    /// Link or copy the verified cache object `src` to `dest` through a temp file beside it;
    /// the rename replaces whatever is there.
    fn write_object(&self, oid: &Oid, src: &Path, dest: &Path) -> Result<()> {
        let parent = dest.parent().expect("object has a parent");
        fs::create_dir_all(parent)?;
        self.touched
            .lock()
            .expect("touched dirs")
            .insert(parent.to_path_buf());
        let temp = fsutil::temp_path_for(dest);
        // Hard-link only an object no one else shares: one with other links may be a work-tree
        // file's inode (hard-link checkout), which an edit would change under the remote.
        let shareable = self.link
            && std::fs::metadata(src).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.nlink() == 1
            });
        let result = (|| -> Result<()> {
            if shareable && std::fs::hard_link(src, &temp).is_ok() {
                // What is verified is the inode being published.
                check_local(oid, &temp)?;
            } else {
                let file = fs::File::open(src)?;
                let (actual, _) = crate::data::cache::copy_and_hash(&file, &temp)?;
                if actual != *oid {
                    return Err(Error::CorruptObject { oid: *oid, actual });
                }
                fsutil::make_read_only(&temp, false)?;
            }
            std::fs::rename(&temp, dest)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        match result {
            Err(Error::Io(e)) => Err(self.err(
                format!("cannot write `{}`: {e}", dest.display()),
                RemoteErrorKind::Other,
            )),
            other => other,
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
    /// are immutable and read-only on both sides) when the cache object has no other link, else
    /// a reflink or a kernel copy; either way the published bytes are hashed first.
    fn put(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()> {
        let dest = self.path(oid);
        if dest.is_file() {
            progress(size);
            return Ok(());
        }
        self.write_object(oid, src, &dest)?;
        progress(size);
        Ok(())
    }

    fn replace(&self, oid: &Oid, src: &Path, size: u64, progress: &dyn Fn(u64)) -> Result<()> {
        self.write_object(oid, src, &self.path(oid))?;
        progress(size);
        Ok(())
    }

    fn hash_of(&self, oid: &Oid) -> Result<Option<Oid>> {
        match crate::data::cache::hash_file(&self.path(oid)) {
            Ok((actual, _)) => Ok(Some(actual)),
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn create_for_push(&self) -> Result<bool> {
        if self.root.exists() {
            return Ok(false);
        }
        fs::create_dir_all(&self.root).map_err(|e| {
            self.err(
                format!("cannot create `{}`: {e}", self.root.display()),
                RemoteErrorKind::NoSuchStore,
            )
        })?;
        Ok(true)
    }

    fn after_push(&self) {
        for dir in self.touched.lock().expect("touched dirs").iter() {
            crate::data::cache::sweep_dir(dir, |name| name.contains(fsutil::TMP_MARKER));
        }
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

    fn delete_named(&self, name: &str) -> Result<()> {
        let path = self.root.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err(
                format!("cannot delete `{}`: {e}", path.display()),
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
