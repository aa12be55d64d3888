//! Reading committed pointers through the `git` binary: which `.gitml` files a commit holds, their
//! contents, and which commits a branch or tag keeps alive.
//!
//! The one invariant: the pointers returned for a revision are exactly those in its tree, parsed
//! as strictly as pointers in the work tree. Every call runs `git` with `LC_ALL=C`, stdin closed
//! and `GIT_TERMINAL_PROMPT=0`, from the repository root, so the environment git set when it ran
//! us (`GIT_DIR`, ...) still applies. Pointer blobs are read in one `git cat-file --batch` per
//! call, deduplicated across commits (most commits share most pointers).

use std::collections::{BTreeMap, HashMap};
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
    let out = git(root)
        .args(args)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::Other(format!("could not run `git`: {e}")))?;
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
    // blob id -> the data paths it appears at
    let mut blobs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for commit in commits {
        let out = run(root, &["ls-tree", "-r", "-z", "--full-tree", commit])?;
        for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let mut meta = meta.split(' ');
            let (Some(_mode), Some(kind), Some(blob)) = (meta.next(), meta.next(), meta.next())
            else {
                continue;
            };
            let Some(data) = pointer::data_path(path) else {
                continue;
            };
            if kind != "blob" || !selected(data, paths) {
                continue;
            }
            let at = blobs.entry(blob.to_string()).or_default();
            if !at.iter().any(|p| p == data) {
                at.push(data.to_string());
            }
        }
    }
    let contents = read_blobs(root, blobs.keys().map(String::as_str))?;
    let mut out = Vec::new();
    for (blob, at) in &blobs {
        let text = contents.get(blob).map(String::as_str).unwrap_or_default();
        for path in at {
            let origin = format!("{}{} (blob {blob})", path, pointer::SUFFIX);
            out.push(CommittedPointer {
                path: path.clone(),
                pointer: Pointer::parse(text, &origin)?,
            });
        }
    }
    Ok(out)
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

/// Read blobs with one `git cat-file --batch`: text of each blob found (at most 64 KiB: pointers
/// are a few hundred bytes, anything larger is not one).
pub(crate) fn read_blobs<'a>(
    root: &Path,
    ids: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, String>> {
    let names: Vec<String> = ids.map(str::to_string).collect();
    Ok(cat_batch(root, &names)?
        .into_iter()
        .filter(|(_, b)| b.len() <= 64 * 1024)
        .map(|(k, b)| (k, String::from_utf8_lossy(&b).into_owned()))
        .collect())
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
pub fn merge_base(root: &Path, a: &str, b: &str) -> Result<Option<String>> {
    match run(root, &["merge-base", a, b]) {
        Ok(out) => Ok(Some(String::from_utf8_lossy(&out).trim().to_string())),
        Err(Error::Git { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether this is a shallow clone (history is cut off).
pub fn is_shallow(root: &Path) -> bool {
    run(root, &["rev-parse", "--is-shallow-repository"])
        .map(|o| String::from_utf8_lossy(&o).trim() == "true")
        .unwrap_or(false)
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
