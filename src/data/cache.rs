//! The content cache: immutable objects named by the BLAKE3 hash of their bytes.
//!
//! Layout: `<cache>/blake3/<2 hex>/<62 hex>`, mirrored on every remote. Objects are written to
//! `<cache>/tmp/` and renamed into place only after their bytes were hashed *from the temporary
//! copy itself*, so a file changing under us, a crash or a kill can never leave an object whose
//! content differs from its name. Objects are read-only.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use fs_err as fs;
use rayon::prelude::*;

use crate::data::index::Stat;
use crate::error::{Error, Result};
use crate::fsutil;
use crate::oid::Oid;

/// Files up to this size are read into memory, hashed and written in one pass; larger ones are
/// copied by the kernel and hashed with all cores from a memory map.
pub const SMALL_FILE: u64 = 16 * 1024 * 1024;

pub struct Cache {
    root: PathBuf,
    /// Which `blake3/xx` fan-out directories are known to exist.
    fanout: Vec<AtomicBool>,
    /// Whether `tmp/` is known to exist.
    tmp_ready: AtomicBool,
}

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache {
            root,
            fanout: (0..256).map(|_| AtomicBool::new(false)).collect(),
            tmp_ready: AtomicBool::new(false),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn object_path(&self, oid: &Oid) -> PathBuf {
        self.root.join(oid.object_path())
    }

    pub fn contains(&self, oid: &Oid) -> bool {
        std::fs::symlink_metadata(self.object_path(oid)).is_ok_and(|m| m.is_file())
    }

    /// For each of `oids`, whether the cache lacks it. For many oids, each fan-out directory
    /// involved is listed once instead of stat-ing every object: on a 10,000-file directory that
    /// turns 10,000 path lookups into at most 256 directory reads.
    pub fn missing_mask(&self, oids: &[Oid]) -> Vec<bool> {
        if oids.len() < 1024 {
            return oids.par_iter().map(|o| !self.contains(o)).collect();
        }
        let mut fans = [false; 256];
        for o in oids {
            fans[o.as_bytes()[0] as usize] = true;
        }
        let listings: Vec<Option<HashSet<OsString>>> = (0..256usize)
            .into_par_iter()
            .map(|fan| {
                if !fans[fan] {
                    return None;
                }
                let dir = self.root.join("blake3").join(format!("{fan:02x}"));
                let names = std::fs::read_dir(dir).ok()?;
                Some(names.flatten().map(|e| e.file_name()).collect())
            })
            .collect();
        oids.par_iter()
            .map(|o| match &listings[o.as_bytes()[0] as usize] {
                Some(names) => !names.contains(OsStr::new(&o.hex()[2..])),
                None => true,
            })
            .collect()
    }

    /// How many of `oids` are not in the cache.
    pub fn count_missing(&self, oids: &[Oid]) -> usize {
        self.missing_mask(oids).into_iter().filter(|m| *m).count()
    }

    /// The removal epoch: a counter bumped whenever git-ml removes objects from the cache
    /// (quarantine, garbage collection). Facts like "every object of this manifest is present"
    /// hold until it changes.
    pub fn epoch(&self) -> u64 {
        std::fs::read_to_string(self.root.join("epoch"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Bump the removal epoch (callers hold the repository lock).
    pub fn bump_epoch(&self) -> Result<()> {
        let next = self.epoch() + 1;
        fs::create_dir_all(&self.root)?;
        fsutil::atomic_write(
            &self.root.join("epoch"),
            format!("{next}\n").as_bytes(),
            0o644,
        )?;
        Ok(())
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    fn ensure_fanout(&self, oid: &Oid) -> std::io::Result<()> {
        let slot = &self.fanout[oid.as_bytes()[0] as usize];
        if !slot.load(Ordering::Relaxed) {
            fs::create_dir_all(self.object_path(oid).parent().expect("object has a parent"))?;
            slot.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn new_temp(&self) -> std::io::Result<PathBuf> {
        let tmp = self.tmp_dir();
        if !self.tmp_ready.load(Ordering::Relaxed) {
            fs::create_dir_all(&tmp)?;
            self.tmp_ready.store(true, Ordering::Relaxed);
        }
        Ok(fsutil::temp_path_for(&tmp.join("object")))
    }

    /// Write bytes to a new read-only temporary file (the mode is set on the open file, saving a
    /// path lookup per object).
    fn write_temp(temp: &Path, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let mut f = fs::File::create(temp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o444))
    }

    /// Move a finished temporary file (whose bytes hash to `oid`) into place.
    fn publish(&self, temp: &Path, oid: &Oid) -> Result<()> {
        if self.contains(oid) {
            let _ = fs::remove_file(temp);
            return Ok(());
        }
        self.ensure_fanout(oid)?;
        fs::rename(temp, self.object_path(oid))?;
        Ok(())
    }

    /// Store bytes already in memory; returns their oid. The temporary file is made in the
    /// object's own fan-out directory, so the final rename stays within one directory.
    pub fn insert_bytes(&self, bytes: &[u8]) -> Result<Oid> {
        let oid = Oid::of(bytes);
        if self.contains(&oid) {
            return Ok(oid);
        }
        self.ensure_fanout(&oid)?;
        let dest = self.object_path(&oid);
        let temp = fsutil::temp_path_for(&dest);
        let result = Self::write_temp(&temp, bytes).and_then(|_| fs::rename(&temp, &dest));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(e.into());
        }
        Ok(oid)
    }

    /// Store a working-tree file; returns its oid and the stat it had while it was read.
    /// `display` names it in errors.
    pub fn insert_file(&self, path: &Path, display: &str) -> Result<(Oid, Stat)> {
        let mut file = fs::File::open(path)?;
        let before = file.metadata()?;
        if before.len() <= SMALL_FILE {
            let buf = fsutil::read_known_len(&mut file, before.len())?;
            check_unchanged(&file, &before, display)?;
            let oid = self.insert_bytes(&buf)?;
            return Ok((oid, Stat::of(&before)));
        }
        let temp = self.new_temp()?;
        let result = (|| {
            let (oid, _) = copy_and_hash(&file, &temp)?;
            check_unchanged(&file, &before, display)?;
            fsutil::make_read_only(&temp, false)?;
            self.publish(&temp, &oid)?;
            Ok((oid, Stat::of(&before)))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// Store the file at `path` (a remote's copy) under `expected` only if its bytes hash to it.
    pub fn insert_file_verified(&self, path: &Path, expected: &Oid) -> Result<Verified> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        if len <= SMALL_FILE {
            let buf = fsutil::read_known_len(&mut file, len)?;
            let actual = Oid::of(&buf);
            if actual != *expected {
                return Ok(Verified::Mismatch(actual));
            }
            self.insert_bytes(&buf)?;
            return Ok(Verified::Stored(buf.len() as u64));
        }
        let temp = self.new_temp()?;
        let result = (|| {
            let (actual, size) = copy_and_hash(&file, &temp)?;
            if actual != *expected {
                let _ = std::fs::remove_file(&temp);
                return Ok(Verified::Mismatch(actual));
            }
            fsutil::make_read_only(&temp, false)?;
            self.publish(&temp, &actual)?;
            Ok(Verified::Stored(size))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// Hard-link `src` (a directory remote's object on the same file system) into the cache under
    /// `expected`, verifying the linked inode's bytes first. `None` when a link is not possible
    /// (another file system, no permission): the caller copies instead. The link is made before
    /// hashing, so what is verified is exactly the inode that gets published.
    pub fn insert_link_verified(&self, src: &Path, expected: &Oid) -> Result<Option<Verified>> {
        if self.contains(expected) {
            return Ok(Some(Verified::Stored(
                fs::metadata(self.object_path(expected))?.len(),
            )));
        }
        let temp = self.new_temp()?;
        if std::fs::hard_link(src, &temp).is_err() {
            return Ok(None);
        }
        let result = (|| {
            let (actual, size) = hash_file(&temp)?;
            if actual != *expected {
                return Ok(Some(Verified::Mismatch(actual)));
            }
            self.publish(&temp, &actual)?;
            Ok(Some(Verified::Stored(size)))
        })();
        let _ = std::fs::remove_file(&temp);
        result
    }

    /// Bring the file at `src` into the cache's temporary directory and hash what arrived: a hard
    /// link when `link` (the source is another tool's immutable cache object, so sharing its inode
    /// costs no space and no copy), else a reflink, else a copy. Every byte of the staged file is
    /// also fed to `also` (another tool's hash, to check before publishing). Nothing is visible
    /// under an oid until [`Staged::publish`]; dropping the result removes the temporary file.
    pub fn stage_file(
        &self,
        src: &Path,
        link: bool,
        also: &mut dyn FnMut(&[u8]),
    ) -> Result<Staged<'_>> {
        let temp = self.new_temp()?;
        let placed = if link && std::fs::hard_link(src, &temp).is_ok() {
            Placed::Hardlink
        } else {
            let _ = std::fs::remove_file(&temp);
            match reflink_copy::reflink(src, &temp) {
                Ok(()) => Placed::Reflink,
                Err(_) => {
                    let _ = std::fs::remove_file(&temp);
                    fs::copy(src, &temp)?;
                    Placed::Copy
                }
            }
        };
        let mut staged = Staged {
            cache: self,
            temp,
            oid: Oid::of(b""),
            size: 0,
            placed,
        };
        let mut file = fs::File::open(&staged.temp)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            also(&buf[..n]);
            staged.size += n as u64;
        }
        staged.oid = hasher.finalize().into();
        if placed != Placed::Hardlink {
            fsutil::make_read_only(&staged.temp, false)?;
        }
        Ok(staged)
    }

    /// A writer for an object arriving as a stream (a download); see [`ObjectWriter`].
    pub fn writer(&self) -> Result<ObjectWriter<'_>> {
        let temp = self.new_temp()?;
        let file = fs::File::create(&temp)?;
        Ok(ObjectWriter {
            cache: self,
            file: Some(file),
            temp,
            hasher: blake3::Hasher::new(),
            len: 0,
        })
    }

    /// A writer for an object arriving in parts, in any order (parallel ranged downloads); see
    /// [`PartWriter`].
    pub fn part_writer(&self, len: u64) -> Result<PartWriter<'_>> {
        let temp = self.new_temp()?;
        let file = fs::File::create(&temp)?;
        file.set_len(len)?;
        Ok(PartWriter {
            cache: self,
            file: Some(file),
            temp,
            len,
        })
    }

    /// Read a whole object, checking its hash.
    pub fn read_verified(&self, oid: &Oid) -> Result<Vec<u8>> {
        let bytes = fs::read(self.object_path(oid))?;
        let actual = Oid::of(&bytes);
        if actual != *oid {
            return Err(Error::CorruptObject { oid: *oid, actual });
        }
        Ok(bytes)
    }

    /// Move a damaged object to `<cache>/quarantine/` so nothing reads it again and a fetch or
    /// add can replace it; bumps the removal epoch. Callers hold the repository lock.
    pub fn quarantine(&self, oid: &Oid) -> Result<PathBuf> {
        let dir = self.root.join("quarantine");
        fs::create_dir_all(&dir)?;
        self.bump_epoch()?;
        let dest = dir.join(oid.hex());
        fs::rename(self.object_path(oid), &dest)?;
        Ok(dest)
    }

    /// Give the object its own inode before a work-tree file links to it (hard link or symlink):
    /// an object shared with a directory remote or another clone's cache (same file system) would
    /// otherwise be changed by an edit of the work-tree file, which root can make despite the
    /// read-only bits. The private copy is verified before it replaces the shared entry. Also
    /// remembers that this cache has work-tree links, so pushes copy rather than link from it.
    pub fn prepare_for_worktree_link(&self, oid: &Oid) -> Result<()> {
        self.mark_worktree_links()?;
        let path = self.object_path(oid);
        let meta = fs::metadata(&path)?;
        if meta.nlink() <= 1 {
            let (actual, _) = hash_file(&path)?;
            if actual != *oid {
                return Err(Error::CorruptObject { oid: *oid, actual });
            }
            return Ok(());
        }
        let temp = fsutil::temp_path_for(&path);
        let result = (|| {
            let src = fs::File::open(&path)?;
            let (actual, _) = copy_and_hash(&src, &temp)?;
            if actual != *oid {
                return Err(Error::CorruptObject { oid: *oid, actual });
            }
            fsutil::make_read_only(&temp, false)?;
            fs::rename(&temp, &path)?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    fn links_marker(&self) -> PathBuf {
        self.root.join("worktree-links")
    }

    fn mark_worktree_links(&self) -> Result<()> {
        if !self.links_marker().exists() {
            fs::create_dir_all(&self.root)?;
            fsutil::atomic_write(
                &self.links_marker(),
                b"work-tree files hard-link or symlink to objects of this cache; pushes to directory remotes copy\n",
                0o644,
            )?;
        }
        Ok(())
    }

    /// Whether a work-tree file may be linked to an object of this cache (see
    /// [`Cache::prepare_for_worktree_link`]); objects are then never hard-linked elsewhere.
    pub fn has_worktree_links(&self) -> bool {
        self.links_marker().exists()
    }

    /// Every object in the cache.
    pub fn list(&self) -> Result<Vec<Oid>> {
        let mut out: Vec<Oid> = list_objects(&self.root)?.into_iter().map(|o| o.0).collect();
        out.sort();
        Ok(out)
    }

    /// Remove temporary files left by killed processes in `tmp/` (older than an hour, so a
    /// concurrent writer's temp is never touched). Only files named like ours: whatever else is
    /// there (the cache directory may be shared, or chosen badly) is not git-ml's to delete.
    pub fn sweep_temps(&self) {
        sweep_dir(&self.tmp_dir(), |name| name.contains(fsutil::TMP_MARKER));
    }

    /// Also sweep the fan-out directories, where small objects are staged (slower: `verify`).
    pub fn sweep_all_temps(&self) {
        self.sweep_temps();
        let Ok(fans) = std::fs::read_dir(self.root.join("blake3")) else {
            return;
        };
        for fan in fans.flatten() {
            sweep_dir(&fan.path(), |name| name.contains(fsutil::TMP_MARKER));
        }
    }
}

/// Every object under a cache or directory-remote root (`blake3/ab/cdef...`) with its path;
/// temporary files and anything else that is not named like an object are skipped.
pub fn list_objects(root: &Path) -> Result<Vec<(Oid, PathBuf)>> {
    let mut out = Vec::new();
    let Ok(fanouts) = std::fs::read_dir(root.join("blake3")) else {
        return Ok(out);
    };
    for fan in fanouts {
        let fan = fan?;
        let prefix = fan.file_name().to_string_lossy().into_owned();
        if prefix.len() != 2 || !fan.file_type()?.is_dir() {
            continue;
        }
        for obj in fs::read_dir(fan.path())? {
            let obj = obj?;
            let name = obj.file_name().to_string_lossy().into_owned();
            if let Ok(oid) = format!("blake3:{prefix}{name}").parse::<Oid>() {
                out.push((oid, obj.path()));
            }
        }
    }
    Ok(out)
}

/// Remove files in `dir` whose names `is_temp` accepts and that are older than an hour. Only
/// regular files (a link is never followed, a directory never entered).
pub(crate) fn sweep_dir(dir: &Path, is_temp: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in entries.flatten() {
        if is_temp(&e.file_name().to_string_lossy())
            && e.file_type().is_ok_and(|t| t.is_file())
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < hour_ago)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Bytes per step when streaming a large file into the cache (a multiple of the page size).
const CHUNK: u64 = 64 * 1024 * 1024;

/// Copy `src` into the new file `temp` and hash the copy, overlapping the two: one thread has the
/// kernel copy a chunk (`copy_file_range`, no bytes through user space) while this thread hashes
/// the chunk copied before it, on all cores, from a memory map of the copy. The oid names exactly
/// the bytes in `temp`, whatever happens to the source meanwhile; memory use is bounded, so files
/// larger than RAM are fine. (Measured on 1 GiB: copy then hash took 1.6x `cp`; overlapped, the
/// hash hides behind the copy.)
pub(crate) fn copy_and_hash(src: &fs::File, temp: &Path) -> std::io::Result<(Oid, u64)> {
    use std::io::Read;
    let dst = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(temp)?;
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, u64)>();
    std::thread::scope(|scope| {
        let copier = scope.spawn(|| -> std::io::Result<u64> {
            let done_tx = done_tx;
            let mut offset = 0u64;
            loop {
                let n = std::io::copy(&mut src.file().take(CHUNK), &mut &dst)?;
                if n == 0 {
                    return Ok(offset);
                }
                let _ = done_tx.send((offset, n));
                offset += n;
            }
        });
        let mut hasher = blake3::Hasher::new();
        let mut hashed = Ok(());
        for (offset, len) in done_rx {
            if hashed.is_ok() {
                hashed = map_range(&dst, offset, len).map(|map| {
                    hasher.update_rayon(&map);
                });
            }
        }
        let total = copier
            .join()
            .map_err(|_| std::io::Error::other("copy thread panicked"))??;
        hashed?;
        Ok((hasher.finalize().into(), total))
    })
}

/// Map `len` bytes of `file` at `offset` (page aligned) read-only.
#[allow(unsafe_code)]
fn map_range(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: a mapping is unsound only if the file changes underneath it. `file` is a temporary
    // file this process created with `create_new` in the cache's private `tmp/` directory; this
    // range is already fully written and nothing writes to it again before it is renamed into
    // place (and objects are read-only once published).
    unsafe {
        memmap2::MmapOptions::new()
            .offset(offset)
            .len(len as usize)
            .map(file)
    }
}

/// Hash a working-tree file without storing it; returns the stat it had while it was read.
pub fn hash_work_file(path: &Path, display: &str) -> Result<(Oid, Stat)> {
    let mut file = fs::File::open(path)?;
    let before = file.metadata()?;
    let oid = if before.len() <= SMALL_FILE {
        Oid::of(&fsutil::read_known_len(&mut file, before.len())?)
    } else {
        hash_file(path)?.0
    };
    check_unchanged(&file, &before, display)?;
    Ok((oid, Stat::of(&before)))
}

/// Hash a file without storing it: in memory for small files, memory-mapped on all cores for
/// large ones (and files larger than RAM).
pub fn hash_file(path: &Path) -> Result<(Oid, u64)> {
    let mut file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len <= SMALL_FILE {
        let buf = fsutil::read_known_len(&mut file, len)?;
        return Ok((Oid::of(&buf), buf.len() as u64));
    }
    drop(file);
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("{e} (hashing `{}`)", path.display()))
    })?;
    Ok((hasher.finalize().into(), len))
}

/// The open file's metadata now, compared with before reading: a change means the bytes read may
/// mix two versions. (The fd follows the inode we read, so a rename over the path is harmless.)
fn check_unchanged(file: &fs::File, before: &std::fs::Metadata, display: &str) -> Result<()> {
    let after = file.metadata()?;
    if after.len() != before.len()
        || fsutil::mtime_ns(&after) != fsutil::mtime_ns(before)
        || after.ino() != before.ino()
    {
        return Err(Error::ChangedWhileReading {
            path: display.to_string(),
        });
    }
    Ok(())
}

/// How a file entered the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Placed {
    Hardlink,
    Reflink,
    Copy,
    /// Read into memory and written (small files).
    Write,
}

impl Placed {
    pub fn name(self) -> &'static str {
        match self {
            Placed::Hardlink => "hardlink",
            Placed::Reflink => "reflink",
            Placed::Copy => "copy",
            Placed::Write => "write",
        }
    }
}

/// A file staged by [`Cache::stage_file`]: hashed, not yet visible under its oid.
pub struct Staged<'a> {
    cache: &'a Cache,
    temp: PathBuf,
    pub oid: Oid,
    pub size: u64,
    pub placed: Placed,
}

impl Staged<'_> {
    /// Make the object visible under its oid (its bytes were hashed from the staged inode).
    pub fn publish(self) -> Result<Oid> {
        self.cache.publish(&self.temp, &self.oid)?;
        Ok(self.oid)
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        // After `publish` the temp was renamed away (or removed) and this fails harmlessly.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// The outcome of storing bytes that must hash to a given oid.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    /// Stored (or already present); the object's size.
    Stored(u64),
    /// Not stored: the bytes hash to this instead.
    Mismatch(Oid),
}

/// Streams bytes into a temporary file in the cache while hashing them; [`ObjectWriter::finish`]
/// publishes the object only if the hash matches. Dropped unfinished (an error, a kill), it
/// removes its temporary file; a killed process leaves one that `sweep_temps` clears.
pub struct ObjectWriter<'a> {
    cache: &'a Cache,
    file: Option<fs::File>,
    temp: PathBuf,
    hasher: blake3::Hasher,
    len: u64,
}

impl ObjectWriter<'_> {
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        self.file
            .as_mut()
            .expect("writer not finished")
            .write_all(bytes)?;
        Ok(())
    }

    /// Publish under the hash of what was written (for content named by another tool's hash,
    /// checked by the caller before this): the name is right by construction.
    pub fn finish_computed(mut self) -> Result<(Oid, u64)> {
        drop(self.file.take());
        let oid: Oid = self.hasher.finalize().into();
        fsutil::make_read_only(&self.temp, false)?;
        self.cache.publish(&self.temp, &oid)?;
        Ok((oid, self.len))
    }

    pub fn finish(mut self, expected: &Oid) -> Result<Verified> {
        drop(self.file.take());
        let actual: Oid = self.hasher.finalize().into();
        if actual != *expected {
            return Ok(Verified::Mismatch(actual));
        }
        fsutil::make_read_only(&self.temp, false)?;
        self.cache.publish(&self.temp, &actual)?;
        Ok(Verified::Stored(self.len))
    }
}

/// Bytes written at their offsets into a temporary file of the object's full length;
/// [`PartWriter::finish`] hashes the whole file and publishes it only if the hash matches, so a
/// part never written (still zeros) or written twice wrong can never be published. Dropped
/// unfinished, it removes its temporary file.
pub struct PartWriter<'a> {
    cache: &'a Cache,
    file: Option<fs::File>,
    temp: PathBuf,
    len: u64,
}

impl PartWriter<'_> {
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        if offset + bytes.len() as u64 > self.len {
            return Err(Error::Other(format!(
                "a part at {offset}+{} runs past the object's {} bytes",
                bytes.len(),
                self.len
            )));
        }
        self.file
            .as_ref()
            .expect("writer not finished")
            .file()
            .write_all_at(bytes, offset)?;
        Ok(())
    }

    pub fn finish(mut self, expected: &Oid) -> Result<Verified> {
        drop(self.file.take());
        let (actual, len) = hash_file(&self.temp)?;
        if actual != *expected {
            return Ok(Verified::Mismatch(actual));
        }
        fsutil::make_read_only(&self.temp, false)?;
        self.cache.publish(&self.temp, &actual)?;
        Ok(Verified::Stored(len))
    }
}

impl Drop for PartWriter<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

impl Drop for ObjectWriter<'_> {
    fn drop(&mut self) {
        // After a successful `finish` the temp was renamed away and this fails harmlessly.
        let _ = std::fs::remove_file(&self.temp);
    }
}
