//! Git hooks: installing git-ml's shims beside the user's own hooks, and what each hook does.
//!
//! The shims in `hooks/` (compiled in here) only hand over to `git ml hook NAME`; the logic lives
//! in this room, one file per hook. Installation never clobbers: a hook already there is kept and
//! chained (it runs first, with the same arguments and standard input, and its failure stops the
//! chain with its exit code); where that cannot be done safely (a hook that is a symlink, a hooks
//! directory inside the work tree such as husky's `.husky/`), the snippet to add by hand is given
//! instead.

pub mod checkout;
pub mod pre_commit;
pub mod pre_push;
pub mod rewrite;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::workspace::Workspace;

/// The hooks git-ml installs, with their shims.
pub const HOOKS: &[(&str, &str)] = &[
    ("pre-commit", include_str!("../../hooks/pre-commit")),
    ("pre-push", include_str!("../../hooks/pre-push")),
    ("post-checkout", include_str!("../../hooks/post-checkout")),
    ("post-merge", include_str!("../../hooks/post-merge")),
    ("post-commit", include_str!("../../hooks/post-commit")),
    ("post-rewrite", include_str!("../../hooks/post-rewrite")),
];

/// Hooks git feeds on standard input (the chain must give it to both hooks).
const STDIN_HOOKS: &[&str] = &["pre-push", "post-rewrite"];

/// In every shim git-ml writes: how it recognises its own.
pub const MARKER: &str = "git-ml hook shim";

/// The suffix under which a chained, pre-existing hook is kept.
pub const ORIGINAL_SUFFIX: &str = ".pre-gitml";

/// What installing (or removing) one hook does.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// No hook was there: the shim is written.
    Install,
    /// Our shim is there already, as it should be.
    Unchanged,
    /// Our shim is there, but an older one: rewritten.
    Update,
    /// Another hook is there: kept as `NAME.pre-gitml`, and run first by the chaining shim.
    Chain { original: String },
    /// Another hook is there and cannot be chained safely: nothing written; add `snippet`.
    Manual { reason: String, snippet: String },
    /// Uninstall: our shim removed (and the original, if chained, put back).
    Remove { restored: bool },
    /// Uninstall: nothing of ours there.
    Absent,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookPlan {
    pub hook: String,
    pub path: PathBuf,
    #[serde(flatten)]
    pub action: Action,
    /// What would be written (for `--print`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// The directory git runs hooks from: `core.hooksPath` when set, else the common git dir's
/// `hooks/` (so linked worktrees share the hooks, as git does).
pub fn hooks_dir(ws: &Workspace) -> Result<PathBuf> {
    let out = crate::git::run(ws.root(), &["rev-parse", "--git-path", "hooks"])?;
    let p = PathBuf::from(String::from_utf8_lossy(&out).trim());
    Ok(if p.is_absolute() {
        p
    } else {
        ws.root().join(p)
    })
}

/// The shim that runs `original` first, then git-ml.
fn chained_shim(hook: &str) -> String {
    let mut s = format!(
        "#!/bin/sh\n# {MARKER} (chained): runs the {hook} hook that was here before git-ml, then 'git ml hook {hook}'.\n# The original is kept as {hook}{ORIGINAL_SUFFIX}; 'git ml uninstall-hooks' puts it back.\nhooks=$(dirname \"$0\")\n"
    );
    let missing = format!(
        "command -v git-ml >/dev/null 2>&1 || {{ echo 'git-ml: git-ml is not on PATH; {hook} hook skipped' >&2; exit 0; }}\n"
    );
    if STDIN_HOOKS.contains(&hook) {
        s.push_str(&format!(
            "input=$(mktemp) || exit 1\ncat > \"$input\"\n\"$hooks/{hook}{ORIGINAL_SUFFIX}\" \"$@\" < \"$input\" || {{ status=$?; rm -f \"$input\"; exit $status; }}\nif ! command -v git-ml >/dev/null 2>&1; then\n  rm -f \"$input\"\n  echo 'git-ml: git-ml is not on PATH; {hook} hook skipped' >&2\n  exit 0\nfi\ngit-ml hook {hook} \"$@\" < \"$input\"\nstatus=$?\nrm -f \"$input\"\nexit $status\n"
        ));
    } else {
        s.push_str(&format!(
            "\"$hooks/{hook}{ORIGINAL_SUFFIX}\" \"$@\" || exit $?\n{missing}exec git-ml hook {hook} \"$@\"\n"
        ));
    }
    s
}

/// What to add by hand to a hook git-ml cannot chain with.
fn snippet(hook: &str) -> String {
    if STDIN_HOOKS.contains(&hook) {
        format!(
            "# git-ml ({hook} reads standard input: give it the same input as the rest of the hook)\ncommand -v git-ml >/dev/null 2>&1 && git-ml hook {hook} \"$@\" || exit $?"
        )
    } else {
        format!("command -v git-ml >/dev/null 2>&1 && git-ml hook {hook} \"$@\" || exit $?")
    }
}

/// Plan `install-hooks`: what each hook gets. `force` also chains where it is not safe by
/// default (a hooks directory inside the work tree, e.g. `core.hooksPath = .husky`).
pub fn plan_install(ws: &Workspace, force: bool) -> Result<Vec<HookPlan>> {
    let dir = hooks_dir(ws)?;
    let in_work_tree = std::fs::canonicalize(&dir)
        .unwrap_or_else(|_| dir.clone())
        .starts_with(ws.root())
        && !dir.starts_with(&ws.repo.common_dir);
    let mut plans = Vec::new();
    for (hook, shim) in HOOKS {
        let path = dir.join(hook);
        let (action, content) = match std::fs::symlink_metadata(&path) {
            Err(_) => (Action::Install, Some(shim.to_string())),
            Ok(meta) => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if meta.file_type().is_symlink() {
                    (
                        Action::Manual {
                            reason: "it is a symlink (managed elsewhere)".into(),
                            snippet: snippet(hook),
                        },
                        None,
                    )
                } else if text.contains(MARKER) {
                    let chained = dir.join(format!("{hook}{ORIGINAL_SUFFIX}")).exists();
                    let want = if chained {
                        chained_shim(hook)
                    } else {
                        shim.to_string()
                    };
                    if text == want {
                        (Action::Unchanged, None)
                    } else {
                        (Action::Update, Some(want))
                    }
                } else if in_work_tree && !force {
                    (
                        Action::Manual {
                            reason: format!(
                                "the hooks directory `{}` is part of the work tree (a hook manager's?); `--force` chains anyway",
                                dir.display()
                            ),
                            snippet: snippet(hook),
                        },
                        None,
                    )
                } else if dir.join(format!("{hook}{ORIGINAL_SUFFIX}")).exists() {
                    (
                        Action::Manual {
                            reason: format!(
                                "`{hook}{ORIGINAL_SUFFIX}` exists already; git-ml will not overwrite it"
                            ),
                            snippet: snippet(hook),
                        },
                        None,
                    )
                } else {
                    (
                        Action::Chain {
                            original: format!("{hook}{ORIGINAL_SUFFIX}"),
                        },
                        Some(chained_shim(hook)),
                    )
                }
            }
        };
        plans.push(HookPlan {
            hook: hook.to_string(),
            path,
            action,
            content,
        });
    }
    Ok(plans)
}

/// Carry out a plan. Each file is written atomically; a chained original is renamed, never
/// copied, so it keeps its mode, owner and content exactly.
pub fn apply(plans: &[HookPlan]) -> Result<()> {
    for p in plans {
        let Some(content) = &p.content else { continue };
        let dir = p.path.parent().expect("hooks have a directory");
        fs_err::create_dir_all(dir)?;
        if let Action::Chain { original } = &p.action {
            fs_err::rename(&p.path, dir.join(original))?;
        }
        crate::fsutil::atomic_write(&p.path, content.as_bytes(), 0o755)?;
    }
    Ok(())
}

/// Remove git-ml's shims, putting chained originals back.
pub fn uninstall(ws: &Workspace) -> Result<Vec<HookPlan>> {
    let dir = hooks_dir(ws)?;
    let mut out = Vec::new();
    for (hook, _) in HOOKS {
        let path = dir.join(hook);
        let original = dir.join(format!("{hook}{ORIGINAL_SUFFIX}"));
        let ours = std::fs::read_to_string(&path).is_ok_and(|t| t.contains(MARKER));
        let action = if ours {
            fs_err::remove_file(&path)?;
            let restored = original.exists();
            if restored {
                fs_err::rename(&original, &path)?;
            }
            Action::Remove { restored }
        } else {
            Action::Absent
        };
        out.push(HookPlan {
            hook: hook.to_string(),
            path,
            action,
            content: None,
        });
    }
    Ok(out)
}

/// `[hooks]` in `gitml.toml`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// pre-commit refuses staged files larger than this that git-ml does not track.
    pub max_file_size: u64,
    /// pre-commit also evaluates the gates on the working tree's metrics against HEAD.
    pub check: bool,
    /// post-checkout and post-merge materialise the data of the new HEAD.
    pub checkout: bool,
    /// pre-push uploads data, run records and registry tags.
    pub push: bool,
}

const KEYS: &[&str] = &["max_file_size", "check", "checkout", "push"];

impl Settings {
    pub fn from_project(project: &toml::Table) -> Result<Settings> {
        let mut s = Settings {
            // Where GitHub starts warning about a file.
            max_file_size: 50 * 1000 * 1000,
            check: false,
            checkout: true,
            push: true,
        };
        let Some(t) = project.get("hooks") else {
            return Ok(s);
        };
        let bad = |message: String| Error::Config {
            file: crate::config::PROJECT_FILE.into(),
            message: format!("[hooks] {message}"),
        };
        let t = t.as_table().ok_or_else(|| bad("must be a table".into()))?;
        for (k, v) in t {
            let flag = || {
                v.as_bool()
                    .ok_or_else(|| bad(format!("`{k}` must be true or false")))
            };
            match k.as_str() {
                "max_file_size" => {
                    s.max_file_size = match v {
                        toml::Value::Integer(n) if *n > 0 => *n as u64,
                        toml::Value::String(text) => parse_size(text).ok_or_else(|| {
                            bad(format!(
                                "`max_file_size = \"{text}\"` is not a size like `50MB` or `2GiB`"
                            ))
                        })?,
                        _ => {
                            return Err(bad(
                                "`max_file_size` must be a number of bytes or a size like `50MB`"
                                    .into(),
                            ));
                        }
                    }
                }
                "check" => s.check = flag()?,
                "checkout" => s.checkout = flag()?,
                "push" => s.push = flag()?,
                other => {
                    return Err(bad(format!(
                        "unknown key `{other}`; known keys: {}",
                        KEYS.join(", ")
                    )));
                }
            }
        }
        Ok(s)
    }
}

/// `50MB`, `2 GiB`, `1000` (bytes).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(split);
    let n: f64 = n.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

/// Whether git-ml runs here at all: a repository with a `gitml.toml`.
pub fn active(root: &Path) -> bool {
    root.join(crate::config::PROJECT_FILE).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50MB"), Some(50_000_000));
        assert_eq!(parse_size("2 GiB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("much"), None);
    }

    #[test]
    fn shims_hand_over_and_chains_keep_stdin() {
        for (hook, shim) in HOOKS {
            assert!(shim.contains(MARKER), "{hook}");
            assert!(
                shim.contains(&format!("exec git-ml hook {hook} \"$@\"")),
                "{hook}"
            );
        }
        let c = chained_shim("pre-push");
        assert!(
            c.contains("< \"$input\"") && c.contains("pre-push.pre-gitml"),
            "{c}"
        );
    }
}
