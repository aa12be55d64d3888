use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Outcome, output};

/// Track files or directories: store their content in the cache and write `<path>.gitml` pointers
///
/// The data itself is added to `.gitignore`; commit the pointer instead. Re-adding an unchanged
/// path reads nothing (the stat index knows it); in a changed directory only the changed files are
/// read.
#[derive(Args)]
pub struct AddArgs {
    /// Files or directories to track
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: AddArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    let progress = ctx.progress();
    let report = gitml::data::add::add(&ws, &args.paths, &progress)?;
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    for w in &report.warnings {
        warning!("{}", output::shown(w));
    }
    for a in report.added.iter().filter(|_| !ctx.quiet) {
        let what = match a.kind {
            gitml::data::pointer::Kind::File => output::size(a.size),
            gitml::data::pointer::Kind::Dir => {
                format!(
                    "{}, {}",
                    output::plural(a.files, "file", "files"),
                    output::size(a.size)
                )
            }
        };
        let verb = if a.changed { "added" } else { "unchanged" };
        outln!(
            "{verb} `{}` ({what}) -> `{}`",
            output::shown(&a.path),
            output::shown(&a.pointer)
        );
    }
    if !ctx.quiet {
        eprintln!(
            "hashed {} ({})",
            output::plural(report.hashed_files, "file", "files"),
            output::size(report.hashed_bytes)
        );
        let mut to_stage: Vec<String> = report
            .added
            .iter()
            .filter(|a| a.changed)
            .map(|a| a.pointer.clone())
            .collect();
        for g in report.added.iter().filter_map(|a| a.gitignore.clone()) {
            if !to_stage.contains(&g) {
                to_stage.push(g);
            }
        }
        if !to_stage.is_empty() {
            eprintln!(
                "hint: record it in git with `git add -- {}`",
                to_stage
                    .iter()
                    .map(|p| output::shown(&gitml::text::shell_quote(p)).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    Ok(Outcome::Ok)
}
