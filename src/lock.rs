//! The repository lock: one git-ml process at a time mutates the index, pointers and
//! `.gitignore` files of a repository; a second one waits, it does not fail.
//!
//! The lock is an advisory `flock` on `<gitml dir>/lock`, released by the kernel when its holder
//! exits, however it exits, so a killed process never leaves a stale lock. The holder writes its
//! pid and command into the file so a waiter can say whom it waits for.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

#[derive(Debug)]
pub struct RepoLock {
    file: File,
}

impl RepoLock {
    /// Take the lock, waiting up to `timeout`; `on_wait` is called once with the holder's
    /// description if we have to wait.
    pub fn acquire(
        gitml_dir: &Path,
        timeout: Duration,
        on_wait: &dyn Fn(&str),
    ) -> Result<RepoLock> {
        Self::acquire_named(gitml_dir, "lock", timeout, on_wait)
    }

    /// The same for another lock file in the git-ml dir: `run.lock` keeps two pipeline runs of
    /// one repository from writing the same outputs and `gitml.lock` at once (a separate file,
    /// because a run takes the repository lock itself, stage by stage, to store outputs).
    pub fn acquire_named(
        gitml_dir: &Path,
        name: &str,
        timeout: Duration,
        on_wait: &dyn Fn(&str),
    ) -> Result<RepoLock> {
        let path = gitml_dir.join(name);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| fs_err_io(e, &path))?;
        let start = Instant::now();
        let mut waited = false;
        let mut pause = Duration::from_millis(5);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if !waited {
                        on_wait(&holder);
                        waited = true;
                    }
                    if start.elapsed() >= timeout {
                        return Err(Error::LockTimeout {
                            secs: timeout.as_secs(),
                            holder,
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(TryLockError::Error(e)) => return Err(fs_err_io(e, &path)),
            }
        }
        let me = format!(
            "pid {} (`{}`)",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(me.as_bytes()));
        Ok(RepoLock { file })
    }

    /// Take the lock only if it is free right now.
    pub fn try_acquire(gitml_dir: &Path) -> Option<RepoLock> {
        let path = gitml_dir.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ok()?;
        file.try_lock().ok()?;
        Some(RepoLock { file })
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut s));
    if s.trim().is_empty() {
        "another git-ml process".into()
    } else {
        s.trim().to_string()
    }
}

fn fs_err_io(e: std::io::Error, path: &Path) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{e} (lock file `{}`)", path.display()),
    ))
}
