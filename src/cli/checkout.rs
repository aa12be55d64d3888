use std::path::PathBuf;

use clap::{Args, ValueEnum};

use gitml::config::LinkMode;

use super::{Ctx, Outcome, output};

/// Make tracked data in the work tree match the pointers of the current commit
///
/// Run it after `git checkout`, `git pull` or `git merge` so the data follows the branch. Files
/// are placed by reflink when the file system supports it, else copied; hardlinks and symlinks
/// (read-only, no extra space) on request. A file with local changes that are not in the cache is
/// never overwritten or deleted unless `--force`.
#[derive(Args)]
pub struct CheckoutArgs {
    /// Limit to these tracked paths (or directories containing them)
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Discard local changes that are not in the cache
    #[arg(short, long)]
    force: bool,

    /// How to place files (default: `cache.link`, else reflink then copy)
    #[arg(long, value_enum, value_name = "MODE")]
    link: Option<LinkArg>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LinkArg {
    Reflink,
    Copy,
    Hardlink,
    Symlink,
}

pub fn run(ctx: &Ctx, args: CheckoutArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let tracked = ws.select_tracked(&args.paths)?;
    let modes = match args.link {
        None => ws.config.link.clone(),
        // Asking for reflink still falls back to a copy, so a checkout never fails on a file
        // system without copy-on-write; the report says what was used.
        Some(LinkArg::Reflink) => vec![LinkMode::Reflink, LinkMode::Copy],
        Some(LinkArg::Copy) => vec![LinkMode::Copy],
        Some(LinkArg::Hardlink) => vec![LinkMode::Hardlink, LinkMode::Copy],
        Some(LinkArg::Symlink) => vec![LinkMode::Symlink],
    };
    let opts = gitml::data::checkout::CheckoutOptions {
        force: args.force,
        modes,
    };
    let report = gitml::data::checkout::checkout(&ws, &tracked, &opts, &ctx.progress())?;
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    for p in report.paths.iter().filter(|_| !ctx.quiet) {
        if p.action != "up-to-date" {
            outln!(
                "updated `{}` ({} written, {} removed)",
                output::shown(&p.path),
                output::plural(p.written, "file", "files"),
                p.removed
            );
        }
    }
    if !ctx.quiet {
        let updated = report
            .paths
            .iter()
            .filter(|p| p.action != "up-to-date")
            .count() as u64;
        let modes: Vec<String> = report
            .link_modes
            .iter()
            .map(|(m, n)| format!("{m}: {n}"))
            .collect();
        let modes = if modes.is_empty() {
            String::new()
        } else {
            format!(" (link mode {})", modes.join(", "))
        };
        if updated == 0 {
            eprintln!(
                "{} up to date",
                output::plural(report.paths.len() as u64, "path", "paths")
            );
        } else {
            eprintln!(
                "{} checked out, {updated} updated{modes}",
                output::plural(report.paths.len() as u64, "path", "paths")
            );
        }
    }
    Ok(Outcome::Ok)
}
