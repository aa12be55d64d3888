use std::path::PathBuf;

use clap::Args;

use gitml::data::status::{CacheState, State};

use super::{Ctx, Outcome, output};

/// Compare tracked data in the work tree with its pointers
///
/// Exit code 0 when every tracked path matches its pointer and its content is in the cache, 1 when
/// anything differs (like `git diff --exit-code`), 2 on error.
#[derive(Args)]
pub struct StatusArgs {
    /// Limit to these tracked paths (or directories containing them)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Also list unchanged paths
    #[arg(short, long)]
    all: bool,

    /// List at most this many changed files per directory (0: no limit)
    #[arg(long, default_value_t = 10, value_name = "N")]
    max_files: usize,

    /// Instead of the work tree, report what has not been pushed to this remote yet
    #[arg(short, long, value_name = "NAME", num_args = 0..=1, default_missing_value = "")]
    remote: Option<String>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: StatusArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    if let Some(name) = &args.remote {
        return remote_status(ctx, &ws, &args, name);
    }
    let tracked = ws.select_tracked(&args.paths)?;
    let report = gitml::data::status::status(&ws, &tracked, &ctx.progress())?;
    // Stale pipeline stages, when there is a pipeline (and no paths narrowed the question).
    let stale = if args.paths.is_empty() && ws.config.project.contains_key("stages") {
        gitml::pipeline::run::stale(&ws)?
    } else {
        Vec::new()
    };
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            report: &'a gitml::data::status::StatusReport,
            stale_stages: &'a [gitml::pipeline::run::StageResult],
        }
        output::json(&Out {
            report: &report,
            stale_stages: &stale,
        })?;
    } else {
        // On a terminal a long path is elided in the middle to leave room for its state.
        let room = output::path_room(&output::table(), 40);
        let names: Vec<String> = report
            .paths
            .iter()
            .map(|p| output::elide_middle(&output::shown(&p.path), room))
            .collect();
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for (p, name) in report.paths.iter().zip(&names) {
            if p.is_clean() && !args.all {
                continue;
            }
            use gitml::report::diff::Tone;
            let state = match p.state {
                State::Unchanged => output::tone(Tone::Good, "unchanged"),
                State::Modified => output::tone(Tone::Warn, "modified"),
                State::Missing => output::tone(Tone::Bad, "missing"),
            };
            let mut notes = Vec::new();
            if let Some(c) = &p.changes {
                notes.push(format!(
                    "{} added, {} modified, {} deleted",
                    c.added.len(),
                    c.modified.len(),
                    c.deleted.len()
                ));
            }
            match p.cache {
                CacheState::Present => {}
                CacheState::Missing => notes.push("not in cache".into()),
                CacheState::Partial => notes.push("partly in cache".into()),
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  ({})", notes.join("; "))
            };
            outln!("{name:width$}  {state}{notes}");
            if let Some(c) = &p.changes {
                let limit = if args.max_files == 0 {
                    usize::MAX
                } else {
                    args.max_files
                };
                let all = c
                    .added
                    .iter()
                    .map(|f| ("added", f))
                    .chain(c.modified.iter().map(|f| ("modified", f)))
                    .chain(c.deleted.iter().map(|f| ("deleted", f)));
                let total = c.added.len() + c.modified.len() + c.deleted.len();
                for (what, f) in all.take(limit) {
                    let tone = match what {
                        "added" => Tone::Good,
                        "deleted" => Tone::Bad,
                        _ => Tone::Warn,
                    };
                    outln!(
                        "    {} {}",
                        output::tone(tone, &format!("{what:9}")),
                        output::shown(f)
                    );
                }
                if total > limit {
                    outln!(
                        "    ... and {} more (`--max-files 0` lists all)",
                        total - limit
                    );
                }
            }
        }
        for s in &stale {
            outln!(
                "stage {}  stale ({})",
                output::shown(&s.stage),
                output::shown(&s.reasons.join("; "))
            );
        }
        if !ctx.quiet {
            summarise(&report);
            if !stale.is_empty() {
                eprintln!("hint: bring the stages up to date with `git ml run`");
            }
        }
    }
    Ok(if report.clean && stale.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}

fn summarise(report: &gitml::data::status::StatusReport) {
    let n = report.paths.len() as u64;
    if report.paths.is_empty() {
        eprintln!("nothing tracked yet; track data with `git ml add <path>`");
    } else if report.clean {
        eprintln!(
            "{} tracked, all match their pointers",
            output::plural(n, "path", "paths")
        );
    } else {
        let modified = report.paths.iter().any(|p| p.state == State::Modified);
        let missing = report.paths.iter().any(|p| p.state == State::Missing);
        let uncached = report.paths.iter().any(|p| p.cache != CacheState::Present);
        if modified {
            eprintln!(
                "hint: record the work tree's version with `git ml add <path>`, or restore the pointer's with `git ml checkout <path>`"
            );
        }
        if missing {
            eprintln!("hint: restore missing data with `git ml checkout`");
        }
        if uncached {
            eprintln!(
                "hint: data not in the cache must be fetched from a remote (`git ml pull`) or added again"
            );
        }
    }
}

/// `status --remote`: which tracked paths have objects the remote lacks. Exit 1 if any.
fn remote_status(
    ctx: &Ctx,
    ws: &gitml::Workspace,
    args: &StatusArgs,
    name: &str,
) -> gitml::Result<Outcome> {
    let name = (!name.is_empty()).then_some(name);
    let selection = gitml::remote::transfer::Selection {
        paths: args.paths.clone(),
        ..Default::default()
    };
    let targets = gitml::remote::transfer::targets(ws, &selection)?;
    let (remote, jobs) = super::transfer::open(ws, name, None)?;
    let unpushed = gitml::remote::transfer::unpushed(ws, remote.as_ref(), &targets, jobs)?;
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            remote: &'a str,
            pushed: bool,
            paths: &'a [gitml::remote::transfer::Unpushed],
        }
        output::json(&Out {
            remote: remote.name(),
            pushed: unpushed.is_empty(),
            paths: &unpushed,
        })?;
    } else {
        for u in &unpushed {
            let mut line = format!(
                "{}  not pushed: {} ({})",
                output::shown(&u.path),
                output::plural(u.objects, "object", "objects"),
                output::size(u.bytes)
            );
            if u.not_in_cache > 0 {
                line.push_str(&format!("; {} not in the local cache", u.not_in_cache));
            }
            outln!("{line}");
        }
        if !ctx.quiet {
            if unpushed.is_empty() {
                eprintln!(
                    "{} up to date on `{}`",
                    output::plural(targets.len() as u64, "path is", "paths are"),
                    remote.name()
                );
            } else {
                eprintln!("hint: send them with `git ml push -r {}`", remote.name());
            }
        }
    }
    Ok(if unpushed.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Found
    })
}
