//! Reading committed pointers through the `git` binary: which `.gitml` files a commit holds, their
//! contents, and which commits a branch or tag keeps alive.
//!
//! The one invariant: the pointers returned for a revision are exactly those in its tree, parsed
//! as strictly as pointers in the work tree. Every call runs `git` with `LC_ALL=C`, stdin closed
//! and `GIT_TERMINAL_PROMPT=0`, from the repository root, so the environment git set when it ran
//! us (`GIT_DIR`, ...) still applies. Pointer blobs are read in one `git cat-file --batch` per
//! call, deduplicated across commits (most commits share most pointers).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::data::pointer::{self, Pointer};
use crate::error::{Error, Result};

pub(crate) fn git(root: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(root)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

/// Run git, returning stdout; a failure carries git's own message.
pub(crate) fn run(root: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let started = std::time::Instant::now();
    let out = git(root)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::Other(format!("could not run `git`: {e}")))?;
    tracing::debug!(
        "git {} ({:.1} ms, exit {})",
        args.join(" "),
        started.elapsed().as_secs_f64() * 1e3,
        out.status.code().unwrap_or(-1)
    );
    if !out.status.success() {
        return Err(Error::Git {
            command: format!("git {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// The commit a revision names.
pub fn resolve_commit(root: &Path, rev: &str) -> Result<String> {
    let spec = format!("{rev}^{{commit}}");
    let out = run(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &spec,
        ],
    )
    .map_err(|_| Error::UnknownRevision(rev.to_string()))?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Branch (`refs/heads`, and `refs/remotes` when `remotes`) or tag tips, as commit ids.
pub fn ref_tips(root: &Path, prefixes: &[&str]) -> Result<Vec<String>> {
    let mut args = vec![
        "for-each-ref",
        "--format=%(objectname) %(objecttype) %(*objectname)",
    ];
    args.extend_from_slice(prefixes);
    let out = run(root, &args)?;
    let mut tips = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let mut parts = line.split(' ');
        let (Some(oid), Some(kind), peeled) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        match kind {
            "commit" => tips.push(oid.to_string()),
            // An annotated tag: keep what it points at, when that is a commit.
            "tag" => {
                if let Some(p) = peeled.filter(|p| !p.is_empty())
                    && let Ok(c) = resolve_commit(root, p)
                {
                    tips.push(c);
                }
            }
            _ => {}
        }
    }
    Ok(tips)
}

/// The tip commit of every ref (`refs/*`: branches, remote-tracking branches, tags, stash, and
/// any the user or a tool made), except the notes refs, whose trees hold notes, not pointers.
pub fn all_ref_tips(root: &Path) -> Result<Vec<String>> {
    let mut tips = ref_tips(root, &[])?;
    let notes = ref_tips(root, &["refs/notes"])?;
    tips.retain(|t| !notes.contains(t));
    Ok(tips)
}

/// Every stash entry (not only the newest), with the index and untracked-files commits a stash
/// entry keeps as its second and third parents.
pub fn stash_commits(root: &Path) -> Result<Vec<String>> {
    let out = match run(root, &["log", "-g", "--format=%H %P", "refs/stash", "--"]) {
        Ok(o) => o,
        // No stash: git says the ref does not exist.
        Err(Error::Git { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(String::from_utf8_lossy(&out)
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// Commits that any reflog entry (of every ref and of `HEAD`) written in the last
/// `secs` seconds points to: what a user can still get back with `git reset ref@{N}`.
pub fn recent_reflog_commits(root: &Path, secs: u64) -> Result<Vec<String>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let since = now.saturating_sub(secs);
    let out = match run(
        root,
        &["log", "-g", "--all", "--date=unix", "--format=%H %gd"],
    ) {
        Ok(o) => o,
        Err(Error::Git { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut commits = Vec::new();
    for line in String::from_utf8_lossy(&out).lines() {
        let Some((commit, selector)) = line.split_once(' ') else {
            continue;
        };
        // `ref@{1796302363}`: the entry's time.
        let when = selector
            .rsplit_once("@{")
            .and_then(|(_, t)| t.trim_end_matches('}').parse::<u64>().ok());
        if when.is_none_or(|t| t >= since) {
            commits.push(commit.to_string());
        }
    }
    commits.sort();
    commits.dedup();
    Ok(commits)
}

/// `HEAD` and the pseudo-refs an operation in progress or just done leaves (`ORIG_HEAD`,
/// `MERGE_HEAD`, ...), as commits.
pub fn special_heads(root: &Path) -> Vec<String> {
    [
        "HEAD",
        "ORIG_HEAD",
        "MERGE_HEAD",
        "CHERRY_PICK_HEAD",
        "REVERT_HEAD",
        "REBASE_HEAD",
        "AUTO_MERGE",
    ]
    .iter()
    .filter_map(|h| resolve_commit(root, h).ok())
    .collect()
}

/// Pointer files staged in the index (they may differ from both HEAD and the work tree).
pub fn staged_pointers(root: &Path) -> Result<Vec<CommittedPointer>> {
    let out = run(root, &["ls-files", "-s", "-z"])?;
    let mut blobs = Vec::new();
    for rec in out.split(|&b| b == 0) {
        let rec = String::from_utf8_lossy(rec);
        // `<mode> <blob> <stage>\t<path>`
        let Some((meta, path)) = rec.split_once('\t') else {
            continue;
        };
        let Some(data) = pointer::data_path(path) else {
            continue;
        };
        if let Some(blob) = meta.split(' ').nth(1) {
            blobs.push((data.to_string(), path.to_string(), blob.to_string()));
        }
    }
    let names: Vec<String> = blobs.iter().map(|b| b.2.clone()).collect();
    let contents = cat_batch(root, &names)?;
    let mut out = Vec::new();
    for (data, path, blob) in blobs {
        if let Some(bytes) = contents.get(&blob) {
            let origin = format!("{path} (staged)");
            out.push(CommittedPointer {
                path: data,
                pointer: Pointer::parse(&String::from_utf8_lossy(bytes), &origin)?,
            });
        }
    }
    Ok(out)
}

/// Every linked worktree other than the one at `root`: (work tree path, HEAD commit).
pub fn other_worktrees(root: &Path) -> Result<Vec<(std::path::PathBuf, Option<String>)>> {
    let out = run(root, &["worktree", "list", "--porcelain"])?;
    let mut found = Vec::new();
    let mut current: Option<(std::path::PathBuf, Option<String>)> = None;
    for line in String::from_utf8_lossy(&out)
        .lines()
        .chain(std::iter::once(""))
    {
        if let Some(p) = line.strip_prefix("worktree ") {
            current = Some((std::path::PathBuf::from(p), None));
        } else if let Some(h) = line.strip_prefix("HEAD ") {
            if let Some(c) = current.as_mut() {
                c.1 = Some(h.to_string());
            }
        } else if line.is_empty()
            && let Some(c) = current.take()
        {
            let same = std::fs::canonicalize(&c.0).is_ok_and(|p| p == root);
            if !same && !c.0.as_os_str().is_empty() {
                found.push(c);
            }
        }
    }
    Ok(found)
}

/// The last `n` commits reachable from each of `tips` (first-parent and merged history alike).
pub fn recent_commits(root: &Path, tips: &[String], n: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for tip in tips {
        let max = format!("--max-count={n}");
        let text = run(root, &["rev-list", &max, tip])?;
        out.extend(String::from_utf8_lossy(&text).lines().map(str::to_string));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A pointer as committed in some revision.
#[derive(Debug, Clone)]
pub struct CommittedPointer {
    /// The data path (the pointer's path without `.gitml`), relative to the repository root.
    pub path: String,
    pub pointer: Pointer,
}

/// Every pointer in each of `commits` whose data path is one of `paths` or below one (all when
/// `paths` is empty). Pointers are deduplicated by path and content.
pub fn pointers_at(
    root: &Path,
    commits: &[String],
    paths: &[String],
) -> Result<Vec<CommittedPointer>> {
    let mut batch = Batch::new(root)?;
    let mut seen: std::collections::HashSet<(String, crate::oid::Oid)> = Default::default();
    let mut out = Vec::new();
    for c in commits {
        for p in batch.pointers(c, paths)? {
            if seen.insert((p.path.clone(), p.pointer.oid)) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// One object from [`Batch::get`].
pub struct Object {
    pub oid: String,
    pub kind: String,
    pub data: Vec<u8>,
}

/// A long-lived `git cat-file --batch`, asked one object at a time. Reading a commit's pointers
/// walks its trees through it, remembering each tree by oid, so commits that share directories
/// (nearly all of them) share the work; notes are looked up by path in the notes tree. One git
/// process answers everything a `diff` or `gc` needs.
pub struct Batch {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    out: BufReader<std::process::ChildStdout>,
    /// tree oid -> (path below it, pointer blob oid)
    trees: HashMap<String, std::rc::Rc<Vec<(String, String)>>>,
    pointers: HashMap<String, Pointer>,
    root: std::path::PathBuf,
}

impl Batch {
    pub fn new(root: &Path) -> Result<Batch> {
        let mut child = git(root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::Other(format!("could not run `git cat-file`: {e}")))?;
        let stdin = child.stdin.take().expect("piped stdin");
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Batch {
            child,
            stdin,
            out,
            trees: HashMap::new(),
            pointers: HashMap::new(),
            root: root.to_path_buf(),
        })
    }

    /// The work tree this batch reads for.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The object `name` names (an oid, `rev^{commit}`, `rev:path`), or `None`.
    pub fn get(&mut self, name: &str) -> Result<Option<Object>> {
        if name.contains(['\n', '\r']) || name.is_empty() {
            return Ok(None);
        }
        let bad = |m: String| Error::Git {
            command: "git cat-file --batch".into(),
            message: m,
        };
        writeln!(self.stdin, "{name}")
            .and_then(|_| self.stdin.flush())
            .map_err(|e| bad(e.to_string()))?;
        let mut header = String::new();
        self.out
            .read_line(&mut header)
            .map_err(|e| bad(e.to_string()))?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        let [oid, kind, size] = fields[..] else {
            return Ok(None);
        };
        let size: usize = size
            .parse()
            .map_err(|_| bad(format!("bad header `{}`", header.trim())))?;
        let mut data = vec![0u8; size + 1];
        self.out
            .read_exact(&mut data)
            .map_err(|e| bad(e.to_string()))?;
        data.pop();
        Ok(Some(Object {
            oid: oid.to_string(),
            kind: kind.to_string(),
            data,
        }))
    }

    /// The commit a revision names.
    pub fn commit(&mut self, rev: &str) -> Result<String> {
        match self.get(&format!("{rev}^{{commit}}"))? {
            Some(o) if o.kind == "commit" => Ok(o.oid),
            _ => Err(Error::UnknownRevision(rev.to_string())),
        }
    }

    /// (path, blob) of every pointer file below the tree `tree`.
    fn pointer_blobs(&mut self, tree: &str) -> Result<std::rc::Rc<Vec<(String, String)>>> {
        if let Some(t) = self.trees.get(tree) {
            return Ok(t.clone());
        }
        let Some(obj) = self.get(tree)? else {
            return Ok(Default::default());
        };
        let hash_len = tree.len() / 2;
        let mut found = Vec::new();
        let mut rest = &obj.data[..];
        while let Some(nul) = rest.iter().position(|&b| b == 0) {
            let head = String::from_utf8_lossy(&rest[..nul]).into_owned();
            let Some(raw) = rest.get(nul + 1..nul + 1 + hash_len) else {
                break;
            };
            let oid: String = raw.iter().map(|b| format!("{b:02x}")).collect();
            rest = &rest[nul + 1 + hash_len..];
            let Some((mode, name)) = head.split_once(' ') else {
                continue;
            };
            if mode == "40000" {
                for (p, b) in self.pointer_blobs(&oid)?.iter() {
                    found.push((format!("{name}/{p}"), b.clone()));
                }
            } else if mode.starts_with("100") && name.ends_with(pointer::SUFFIX) {
                found.push((name.to_string(), oid));
            }
        }
        let found = std::rc::Rc::new(found);
        self.trees.insert(tree.to_string(), found.clone());
        Ok(found)
    }

    /// The pointers committed in `commit` (an oid) whose data path is in `paths` (all if empty).
    pub fn pointers(&mut self, commit: &str, paths: &[String]) -> Result<Vec<CommittedPointer>> {
        let tree = match self.get(&format!("{commit}^{{tree}}"))? {
            Some(o) => o.oid,
            None => return Err(Error::UnknownRevision(commit.to_string())),
        };
        let mut out = Vec::new();
        for (path, blob) in self.pointer_blobs(&tree)?.iter() {
            let Some(data) = pointer::data_path(path) else {
                continue;
            };
            if !selected(data, paths) {
                continue;
            }
            if !self.pointers.contains_key(blob) {
                let text = self
                    .get(blob)?
                    .map(|o| String::from_utf8_lossy(&o.data).into_owned())
                    .unwrap_or_default();
                let origin = format!("{path} (blob {blob})");
                self.pointers
                    .insert(blob.clone(), Pointer::parse(&text, &origin)?);
            }
            out.push(CommittedPointer {
                path: data.to_string(),
                pointer: self.pointers[blob].clone(),
            });
        }
        Ok(out)
    }

    /// The note of `commit` (an oid) in `notes_ref`, looked up in the notes tree (flat, or fanned
    /// out as `ab/cdef...` once the notes grow).
    pub fn note(&mut self, notes_ref: &str, commit: &str) -> Result<Option<Vec<u8>>> {
        for depth in 0..4 {
            let mut path = String::new();
            for i in 0..depth {
                path.push_str(&commit[2 * i..2 * i + 2]);
                path.push('/');
            }
            path.push_str(&commit[2 * depth..]);
            if let Some(o) = self.get(&format!("{notes_ref}:{path}"))?
                && o.kind == "blob"
            {
                return Ok(Some(o.data));
            }
        }
        Ok(None)
    }

    /// The content of `path` in `commit`'s tree.
    pub fn file(&mut self, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get(&format!("{commit}:{path}"))?
            .filter(|o| o.kind == "blob")
            .map(|o| o.data))
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn selected(data: &str, paths: &[String]) -> bool {
    paths.is_empty()
        || paths.iter().any(|p| {
            p.is_empty()
                || p == "."
                || data == p
                || data
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

/// Read objects by name (`<oid>` or `<rev>:<path>`) with one `git cat-file --batch`; names that
/// do not exist (or are not blobs) are left out.
pub fn cat_batch(root: &Path, names: &[String]) -> Result<HashMap<String, Vec<u8>>> {
    let mut contents = HashMap::new();
    if names.is_empty() {
        return Ok(contents);
    }
    let mut child = git(root)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Other(format!("could not run `git cat-file`: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let request: String = names.iter().map(|id| format!("{id}\n")).collect();
    // Write from another thread: git answers while we write, and both pipes have limits.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(request.as_bytes());
    });
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let bad = |m: String| Error::Git {
        command: "git cat-file --batch".into(),
        message: m,
    };
    for name in names {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| bad(e.to_string()))?;
        let fields: Vec<&str> = header.split_whitespace().collect();
        // `<name> missing` or `<name> ambiguous`: no body follows.
        let [_, kind, size] = fields[..] else {
            continue;
        };
        let size: usize = size
            .parse()
            .map_err(|_| bad(format!("bad header `{}`", header.trim())))?;
        let mut body = vec![0u8; size + 1];
        reader
            .read_exact(&mut body)
            .map_err(|e| bad(e.to_string()))?;
        body.pop();
        if kind == "blob" {
            contents.insert(name.clone(), body);
        }
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(contents)
}

/// Run git feeding `input` on stdin; returns stdout.
pub(crate) fn run_with_input(root: &Path, args: &[&str], input: &[u8]) -> Result<Vec<u8>> {
    let mut child = git(root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Other(format!("could not run `git`: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Other(format!("could not run `git`: {e}")))?;
    let _ = writer.join();
    if !out.status.success() {
        return Err(Error::Git {
            command: format!("git {}", args.join(" ")),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// How old a ref's `.lock` must be before it counts as left behind by a git that died.
const STALE_REF_LOCK: std::time::Duration = std::time::Duration::from_secs(2);

/// [`run_with_input`] for a command that updates `refname` (`refs/notes/gitml`), recovering
/// from a lock a killed git left behind. Git holds `<ref>.lock` for the milliseconds an update
/// takes; killed in between (a SIGKILLed `git ml record`, a cancelled CI job), it leaves the
/// file, and every later update of the ref fails until somebody deletes it by hand. Callers
/// hold the repository lock, so no other git-ml process is updating the ref: a lock that stays
/// for [`STALE_REF_LOCK`] is removed (logged as a warning) and the command runs again once.
pub(crate) fn run_updating_ref(
    root: &Path,
    refname: &str,
    args: &[&str],
    input: &[u8],
) -> Result<Vec<u8>> {
    let first = run_with_input(root, args, input);
    let Err(Error::Git { message, .. }) = &first else {
        return first;
    };
    if !message.contains("cannot lock ref") {
        return first;
    }
    let Ok(common) = run(
        root,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    ) else {
        return first;
    };
    let lock = Path::new(String::from_utf8_lossy(&common).trim()).join(format!("{refname}.lock"));
    let started = std::time::Instant::now();
    loop {
        let Ok(meta) = std::fs::metadata(&lock) else {
            // Gone: whoever held it finished.
            return run_with_input(root, args, input);
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .unwrap_or_default();
        if age >= STALE_REF_LOCK {
            tracing::warn!(
                target: "gitml",
                "removed `{}`, left by a git process that did not finish",
                lock.display()
            );
            let _ = std::fs::remove_file(&lock);
            return run_with_input(root, args, input);
        }
        if started.elapsed() > STALE_REF_LOCK * 3 {
            return first;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The content of `path` in the tree of `commit`, or `None` if it is not there.
pub fn file_at(root: &Path, commit: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let spec = format!("{commit}:{path}");
    match run(root, &["cat-file", "blob", &spec]) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(Error::Git { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The best common ancestor of two commits, if any.
/// The short name of the ref `rev` points through (`HEAD` on main: `main`), if it names one.
pub fn ref_name(root: &Path, rev: &str) -> Option<String> {
    // `--abbrev-ref` echoes `--end-of-options` back, so an option-like revision is refused here.
    if rev.starts_with('-') {
        return None;
    }
    let out = run(
        root,
        &["rev-parse", "--verify", "--quiet", "--abbrev-ref", rev],
    )
    .ok()?;
    let name = String::from_utf8_lossy(&out).trim().to_string();
    (!name.is_empty() && name != "HEAD").then_some(name)
}

pub fn merge_base(root: &Path, a: &str, b: &str) -> Result<Option<String>> {
    match run(root, &["merge-base", a, b]) {
        Ok(out) => Ok(Some(String::from_utf8_lossy(&out).trim().to_string())),
        Err(Error::Git { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether this is a shallow clone (history is cut off).
///
/// Read in-process, as git decides it: a non-empty `shallow` file in the common git dir lists
/// the commits whose parents were cut off. `git log` asks on every call, and spawning
/// `git rev-parse --is-shallow-repository` for it cost about 3 ms of a 50 ms log.
pub fn is_shallow(root: &Path) -> bool {
    match crate::repo::Repo::discover(root) {
        Ok(repo) => std::fs::metadata(repo.common_dir.join("shallow")).is_ok_and(|m| m.len() > 0),
        Err(_) => run(root, &["rev-parse", "--is-shallow-repository"])
            .map(|o| String::from_utf8_lossy(&o).trim() == "true")
            .unwrap_or(false),
    }
}

/// One commit of a history listing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitInfo {
    pub commit: String,
    /// Committer date, ISO 8601.
    pub date: String,
    pub subject: String,
}

/// `git log` over `range` (first-parent when asked), newest first, at most `max` commits.
pub fn log(
    root: &Path,
    range: &str,
    first_parent: bool,
    max: Option<usize>,
) -> Result<Vec<CommitInfo>> {
    let max_arg = max.map(|n| format!("--max-count={n}"));
    let mut args = vec!["log", "--format=%H%x00%cI%x00%s%x00", "-z"];
    if first_parent {
        args.push("--first-parent");
    }
    if let Some(m) = &max_arg {
        args.push(m);
    }
    args.push("--end-of-options");
    args.push(range);
    let out = run(root, &args).map_err(|e| match e {
        Error::Git { .. } => Error::UnknownRevision(range.to_string()),
        e => e,
    })?;
    let text = String::from_utf8_lossy(&out);
    let mut fields = text.split('\0').map(|f| f.trim_start_matches('\n'));
    let mut commits = Vec::new();
    while let (Some(c), Some(d), Some(s)) = (fields.next(), fields.next(), fields.next()) {
        if c.is_empty() {
            break;
        }
        commits.push(CommitInfo {
            commit: c.to_string(),
            date: d.to_string(),
            subject: s.to_string(),
        });
        // `-z` ends each record with a NUL after our trailing %x00: skip the empty field.
        fields.next();
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn path_selection_matches_whole_components() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(selected("data/a.bin", &p(&[])));
        assert!(selected("data/a.bin", &p(&["data"])));
        assert!(selected("data/a.bin", &p(&["data/a.bin"])));
        assert!(!selected("data2/a.bin", &p(&["data"])));
        assert!(!selected("data/a.bin", &p(&["model"])));
        assert!(selected("data/a.bin", &p(&["."])));
    }
}
