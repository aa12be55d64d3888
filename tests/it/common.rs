//! Test harness: a hermetic environment (own HOME, empty git config, pinned identity and dates,
//! fixed COLUMNS) with a fresh git repository, and helpers to run `git ml` and `git` in it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_git-ml");

pub struct TestEnv {
    _tmp: tempfile::TempDir,
    pub base: PathBuf,
    pub home: PathBuf,
    pub root: PathBuf,
}

/// The result of one command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        Run::from(out)
    }

    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

impl TestEnv {
    /// A fresh repository with `git ml init` done.
    pub fn new() -> TestEnv {
        let env = TestEnv::bare_repo();
        env.git_ml(&["init"]).success();
        env
    }

    /// A fresh git repository, git-ml not initialised.
    pub fn bare_repo() -> TestEnv {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().canonicalize().expect("canonical tempdir");
        let home = base.join("home");
        let root = base.join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n",
        )
        .unwrap();
        std::fs::write(home.join("empty-config"), "").unwrap();
        let env = TestEnv {
            _tmp: tmp,
            base,
            home,
            root,
        };
        env.git(&["init", "-q"]);
        env
    }

    pub fn command(&self, program: &str, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir).stdin(Stdio::null());
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().into_owned();
            // CI variables too: a run recorded under CI says so, and the tests must not depend on
            // where they run.
            if k.starts_with("GIT_")
                || k.starts_with("GITML_")
                || k.starts_with("AWS_")
                || k.starts_with("AZURE_")
                || k.starts_with("GOOGLE_")
                || k.starts_with("GCE_")
                || k.starts_with("GITHUB_")
                || ["CI", "CI_JOB_URL", "BUILD_URL"].contains(&k.as_str())
            {
                cmd.env_remove(&k);
            }
        }
        // git finds `git-ml` (the merge driver, `git ml ...`) next to the test binary's build.
        let bin_dir = Path::new(BIN).parent().expect("bin dir").to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        // The pinned test tools (SeaweedFS, GTO, Python with scikit-learn) that scripts/test
        // installs, also when a test is run by `cargo test` alone.
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools/bin");
        let mut paths = vec![bin_dir, tools];
        paths.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(paths).expect("PATH"));
        cmd.env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_CONFIG_SYSTEM", self.home.join("empty-config"))
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("LC_ALL", "C")
            .env("COLUMNS", "100")
            .env("NO_COLOR", "1");
        cmd
    }

    pub fn git_ml_in(&self, dir: &Path, args: &[&str]) -> Run {
        Run::from(
            self.command(BIN, dir)
                .args(args)
                .output()
                .expect("run git-ml"),
        )
    }

    pub fn git_ml(&self, args: &[&str]) -> Run {
        self.git_ml_in(&self.root, args)
    }

    /// Run git, asserting success; returns stdout.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.root, args)
    }

    #[track_caller]
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let out = self
            .command("git", dir)
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.path(rel)).is_ok()
    }

    /// Set a file's modification time (to make it racy, or to touch it without a content change).
    pub fn set_mtime(&self, rel: &str, when: std::time::SystemTime) {
        let f = std::fs::File::options()
            .write(true)
            .open(self.path(rel))
            .unwrap();
        f.set_modified(when).unwrap();
    }

    /// Where the cache keeps the object with this content.
    pub fn object_path(&self, content: &[u8]) -> PathBuf {
        let h = blake3::hash(content).to_hex().to_string();
        self.cache_dir().join("blake3").join(&h[..2]).join(&h[2..])
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.root.join(".git/gitml/cache")
    }

    /// Every object file in the cache (temporary files of a killed writer are not objects:
    /// their names say so, and nothing reads them as one).
    pub fn cache_objects(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let base = self.cache_dir().join("blake3");
        if let Ok(fans) = std::fs::read_dir(base) {
            for fan in fans.flatten() {
                for obj in std::fs::read_dir(fan.path()).unwrap().flatten() {
                    if !obj.file_name().to_string_lossy().contains(".gitml-tmp.") {
                        out.push(obj.path());
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Assert every cache object's content hashes to its name.
    #[track_caller]
    pub fn assert_cache_sound(&self) {
        for obj in self.cache_objects() {
            let fan = obj
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let name = format!("{fan}{}", obj.file_name().unwrap().to_string_lossy());
            let actual = blake3::hash(&std::fs::read(&obj).unwrap())
                .to_hex()
                .to_string();
            assert_eq!(actual, name, "cache object {} is corrupt", obj.display());
        }
    }

    /// A second user: a fresh `git clone` of this repository, with its own HOME and no cache.
    pub fn clone_repo(&self) -> TestEnv {
        let other = TestEnv::bare_repo();
        std::fs::remove_dir_all(&other.root).unwrap();
        let src = self.root.display().to_string();
        let dst = other.root.display().to_string();
        other.git_in(&other.base, &["clone", "-q", &src, &dst]);
        other
    }

    /// A fresh clone of another repository (a bare remote, say), with its own HOME.
    pub fn clone_repo_from(&self, url: &Path) -> TestEnv {
        let other = TestEnv::bare_repo();
        std::fs::remove_dir_all(&other.root).unwrap();
        let src = url.display().to_string();
        let dst = other.root.display().to_string();
        other.git_in(&other.base, &["clone", "-q", &src, &dst]);
        other
    }

    /// Every object under a remote directory (same layout as the cache).
    pub fn objects_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(fans) = std::fs::read_dir(dir.join("blake3")) {
            for fan in fans.flatten() {
                for obj in std::fs::read_dir(fan.path()).unwrap().flatten() {
                    if !obj.file_name().to_string_lossy().contains(".gitml-tmp.") {
                        out.push(obj.path());
                    }
                }
            }
        }
        out.sort();
        out
    }

    pub fn commit_all(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
    }
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no data files.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Copy the example project (templates/example) into `env`'s repository, write its raw data
/// (scikit-learn's breast-cancer set), track it and commit: a real ML project, ready to run.
pub fn example_project(env: &TestEnv) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/example");
    copy_tree(&src, &env.root);
    let out = env
        .command("python", &env.root)
        .args(["src/get_data.py"])
        .output()
        .expect("run python (scripts/test installs scikit-learn into target/test-tools)");
    assert!(
        out.status.success(),
        "get_data.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.git_ml(&["add", "data/raw"]).success();
    env.commit_all("the project");
}

fn copy_tree(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            if e.file_name() == "__pycache__" || e.file_name() == ".venv" {
                continue;
            }
            std::fs::create_dir_all(&to).unwrap();
            copy_tree(&e.path(), &to);
        } else if e.file_name() == ".gitignore" && to.exists() {
            let mut text = std::fs::read_to_string(&to).unwrap();
            text.push_str(&std::fs::read_to_string(e.path()).unwrap());
            std::fs::write(&to, text).unwrap();
        } else {
            // Everything else, gitml.toml included, replaces what `git ml init` wrote.
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

pub fn b3(data: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(data).to_hex())
}

/// Where a remote keeps the object of `content`, below its `prefix`.
pub fn remote_key(prefix: &str, content: &[u8]) -> String {
    let h = blake3::hash(content).to_hex().to_string();
    format!("{prefix}/blake3/{}/{}", &h[..2], &h[2..])
}

/// `a.bin` (100 kB, from `seed`) and `b.bin` (`b_len` bytes), added and committed: the pair the
/// remote-damage tests spoil on the server. Returns the contents, and `a` with one bit flipped.
pub fn damage_pair(env: &TestEnv, seed: u64, b_len: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let a = bytes(seed, 100_000);
    let b = bytes(seed + 1, b_len);
    env.write("a.bin", &a);
    env.write("b.bin", &b);
    env.git_ml(&["add", "a.bin", "b.bin"]).success();
    env.commit_all("v1");
    let mut flipped = a.clone();
    flipped[5] ^= 0x40;
    (a, b, flipped)
}

/// A pull or fetch from a remote that holds `a` with a bit flipped and `b` cut short: it fails
/// (exit 2), names both objects as corrupted, and stores neither.
#[track_caller]
pub fn assert_damage_refused(out: &Run, clone: &TestEnv, a: &[u8], b: &[u8]) {
    out.code(2);
    assert!(
        out.stderr.contains(&b3(a)) && out.stderr.contains(&b3(b)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("corrupted"), "{}", out.stderr);
    assert!(!clone.object_path(a).exists() && !clone.object_path(b).exists());
    clone.assert_cache_sound();
}
