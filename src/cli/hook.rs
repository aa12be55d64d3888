use std::io::Read;

use clap::Args;

use gitml::hooks;

use super::{Ctx, Outcome, output};

/// Run one of git-ml's git hooks (git runs it through the shims `git ml install-hooks` writes)
///
/// pre-commit refuses what git-ml cannot stand behind (untracked large files, pointers whose
/// data is nowhere, malformed pointers or config); pre-push uploads the data, run records and
/// registry tags the pushed commits need; post-checkout and post-merge make the data follow the
/// branch; post-commit and post-rewrite attach pending runs. The post-* hooks never fail. Outside
/// a git-ml repository every hook does nothing and says so; `GITML_SKIP_HOOKS=1` skips them all,
/// `GITML_SKIP_PUSH=1` only the upload. See docs/hooks.md.
#[derive(Args)]
pub struct HookArgs {
    /// pre-commit, pre-push, post-checkout, post-merge, post-commit or post-rewrite
    name: String,

    /// The hook's arguments, as git passes them
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn stdin_text() -> String {
    let mut s = String::new();
    let _ = std::io::stdin().read_to_string(&mut s);
    s
}

pub fn run(ctx: &Ctx, args: HookArgs) -> gitml::Result<Outcome> {
    let name = args.name.as_str();
    if !hooks::HOOKS.iter().any(|(h, _)| *h == name) {
        return Err(gitml::Error::Other(format!(
            "`{}` is not a hook git-ml runs; it runs {}",
            output::shown(name),
            hooks::HOOKS
                .iter()
                .map(|(h, _)| *h)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if env("GITML_SKIP_HOOKS").is_some_and(|v| v != "0") {
        return Ok(Outcome::Ok);
    }
    let active = gitml::repo::Repo::discover(&ctx.cwd)
        .map(|r| hooks::active(&r.root))
        .unwrap_or(false);
    if !active {
        eprintln!("git-ml: no gitml.toml here, so the {name} hook does nothing");
        return Ok(Outcome::Ok);
    }
    let post = name.starts_with("post-");
    let result = run_hook(ctx, name, &args.args);
    match result {
        Err(e) if post => {
            // git has done its part already: say what went wrong, never fail.
            eprintln!(
                "git-ml: {name}: {}",
                output::shown(&gitml::error::redact(&e.to_string()))
            );
            if let Some(h) = e.hint() {
                eprintln!("git-ml: hint: {}", output::shown(&h));
            }
            Ok(Outcome::Ok)
        }
        other => other,
    }
}

fn run_hook(ctx: &Ctx, name: &str, args: &[String]) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let settings = hooks::Settings::from_project(&ws.config.project)?;
    let arg = |i: usize| args.get(i).cloned();
    match name {
        "pre-commit" => {
            let report = hooks::pre_commit::pre_commit(&ws, &settings)?;
            for w in &report.warnings {
                eprintln!("git-ml: warning: {}", output::shown(w));
            }
            if report.refused.is_empty() {
                return Ok(Outcome::Ok);
            }
            for p in &report.refused {
                eprintln!("git-ml: {}", output::shown(&p.message));
                eprintln!("git-ml: hint: {}", output::shown(&p.hint));
            }
            eprintln!(
                "git-ml: commit refused ({}); `git commit --no-verify` skips the check",
                output::plural(report.refused.len() as u64, "problem", "problems")
            );
            Ok(Outcome::Found)
        }
        "pre-push" => {
            if !settings.push || env("GITML_SKIP_PUSH").is_some_and(|v| v != "0") {
                eprintln!(
                    "git-ml: pre-push: upload skipped (GITML_SKIP_PUSH or `hooks.push = false`)"
                );
                return Ok(Outcome::Ok);
            }
            // git: remote name and URL as arguments, refs on stdin; the pre-commit framework:
            // environment variables, one ref at a time.
            let (remote, lines) = match env("PRE_COMMIT_TO_REF") {
                Some(to) => (
                    env("PRE_COMMIT_REMOTE_NAME").unwrap_or_default(),
                    format!(
                        "{} {to} {} {}\n",
                        env("PRE_COMMIT_LOCAL_BRANCH").unwrap_or_else(|| "HEAD".into()),
                        env("PRE_COMMIT_REMOTE_BRANCH").unwrap_or_else(|| "HEAD".into()),
                        env("PRE_COMMIT_FROM_REF").unwrap_or_else(|| "0".repeat(40)),
                    ),
                ),
                None => (arg(0).unwrap_or_default(), stdin_text()),
            };
            let report = hooks::pre_push::pre_push(&ws, &remote, &lines, &ctx.progress())?;
            if let Some(d) = &report.data {
                if !d.ok() {
                    for f in d.missing.iter().chain(&d.failed).take(5) {
                        eprintln!(
                            "git-ml: `{}`: object {}: {}",
                            output::shown(&f.path),
                            f.oid,
                            output::shown(&f.error)
                        );
                    }
                    return Err(gitml::Error::Other(format!(
                        "pre-push: {} the pushed commits need could not be uploaded to `{}`, so the push was stopped; run it again (uploads resume), or skip with `GITML_SKIP_PUSH=1 git push`",
                        output::plural(
                            (d.missing.len() + d.failed.len()) as u64,
                            "object",
                            "objects"
                        ),
                        d.remote
                    )));
                }
                if d.transferred > 0 && !ctx.quiet {
                    eprintln!(
                        "git-ml: uploaded {} ({}) to `{}`",
                        output::plural(d.transferred, "object", "objects"),
                        output::size(d.bytes),
                        d.remote
                    );
                }
            }
            if report.no_data_remote > 0 {
                eprintln!(
                    "git-ml: warning: no data remote is configured, so the data of {} was not uploaded (`git ml remote add`)",
                    output::plural(
                        report.no_data_remote as u64,
                        "tracked path",
                        "tracked paths"
                    )
                );
            }
            Ok(Outcome::Ok)
        }
        "post-checkout" | "post-merge" => {
            if !settings.checkout {
                return Ok(Outcome::Ok);
            }
            let (old, new) = if name == "post-checkout" {
                let flag = arg(2).or_else(|| env("PRE_COMMIT_CHECKOUT_TYPE"));
                if flag.as_deref() == Some("0") {
                    return Ok(Outcome::Ok); // a file checkout: not a change of branch
                }
                (
                    arg(0).or_else(|| env("PRE_COMMIT_FROM_REF")),
                    arg(1).or_else(|| env("PRE_COMMIT_TO_REF")),
                )
            } else {
                (
                    gitml::git::resolve_commit(ws.root(), "ORIG_HEAD").ok(),
                    None,
                )
            };
            let new = match new {
                Some(n) => n,
                None => gitml::git::resolve_commit(ws.root(), "HEAD")?,
            };
            let report = hooks::checkout::follow(&ws, old.as_deref(), &new, &ctx.progress())?;
            if let Some(p) = &report.problem {
                eprintln!("git-ml: {}", output::shown(p));
            } else if report.updated > 0 && !ctx.quiet {
                eprintln!(
                    "git-ml: data of {} checked out",
                    output::plural(report.updated as u64, "path", "paths")
                );
            }
            Ok(Outcome::Ok)
        }
        "post-commit" => {
            let report = hooks::rewrite::post_commit(&ws)?;
            for id in &report.adopted {
                eprintln!("git-ml: recorded pending run {id} on this commit");
            }
            Ok(Outcome::Ok)
        }
        "post-rewrite" => {
            let report = hooks::rewrite::post_rewrite(&ws, &stdin_text())?;
            for id in &report.adopted {
                eprintln!("git-ml: recorded pending run {id} on the rewritten commit");
            }
            Ok(Outcome::Ok)
        }
        _ => unreachable!("checked above"),
    }
}
