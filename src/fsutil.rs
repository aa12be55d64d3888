//! File-system helpers: atomic writes, timestamps, permission bits.
//!
//! Every file another process may read (pointers, the index, cache objects) is written to a
//! temporary file in the destination directory and renamed into place, so a reader or a process
//! killed mid-write never sees half a file.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use fs_err as fs;

/// Marker in the names of our temporary files, so they are recognisable (and ignorable) wherever
/// a killed process leaves one behind.
pub const TMP_MARKER: &str = ".gitml-tmp.";

/// A unique temporary name next to `dest`: `.<name>.gitml-tmp.<pid>.<n>`.
pub fn temp_path_for(dest: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Keep the name short enough for NAME_MAX even when `name` is long.
    let name: String = name.chars().take(120).collect();
    dest.with_file_name(format!(".{name}{TMP_MARKER}{}.{n}", pid()))
}

/// This process's id, asked of the kernel once (std asks on every call, and `add` names a
/// temporary file per object).
fn pid() -> u32 {
    static PID: OnceLock<u32> = OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Read a whole file whose length `stat` gave as `len`: in one read of exactly that size and
/// one to see the end, where `read_to_end` starts at 8 KiB and doubles (five reads for a 100 KiB
/// file). A file that grew meanwhile is still read to its end.
pub fn read_known_len(file: &mut impl Read, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    if filled == len as usize {
        file.read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// Write `bytes` to `dest` atomically (temp file + rename), with permission bits `mode`.
pub fn atomic_write(dest: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let tmp = temp_path_for(dest);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        drop(f);
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Modification time in nanoseconds since the epoch, as the file system recorded it.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// The file system's clock, read by creating a file in `dir` and reading back its mtime.
///
/// File timestamps are taken from a coarse kernel clock, which can lag the system clock by a tick;
/// comparing mtimes against [`std::time::SystemTime::now`] would misjudge "racy" files. Reading
/// the clock the files themselves use avoids that.
pub fn fs_clock_ns(dir: &Path) -> std::io::Result<i64> {
    let probe = temp_path_for(&dir.join("clock"));
    let f = fs::File::create(&probe)?;
    let meta = f.metadata()?;
    drop(f);
    let _ = fs::remove_file(&probe);
    Ok(mtime_ns(&meta))
}

pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}

/// The mode a materialised working-tree file gets: 0644/0755 less the process umask, as if the
/// user had created it.
pub fn worktree_mode(executable: bool) -> u32 {
    let base = if executable { 0o777 } else { 0o666 };
    base & !umask()
}

fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        // Read from /proc to avoid the unsafe set-and-restore dance of umask(2).
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Umask:"))
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
            .unwrap_or(0o022)
    })
}

/// Remove write permission, as cache objects are immutable.
pub fn make_read_only(path: &Path, executable: bool) -> std::io::Result<()> {
    let mode = if executable { 0o555 } else { 0o444 };
    fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the stat said, the whole file is read: exactly, shorter (it shrank since) or
    /// longer (it grew), in the reads a `Read` hands out piecemeal.
    #[test]
    fn read_known_len_reads_the_whole_file() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for stated in [0u64, 1, 99_999, 100_000, 100_001, 250_000] {
            let got = read_known_len(&mut std::io::Cursor::new(&data), stated).unwrap();
            assert_eq!(got, data, "stated length {stated}");
            // A reader that returns a few bytes at a time.
            let mut slow = std::io::BufReader::with_capacity(7, std::io::Cursor::new(&data));
            assert_eq!(read_known_len(&mut slow, stated).unwrap(), data);
        }
    }
}
