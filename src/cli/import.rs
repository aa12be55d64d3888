use clap::{Args, Subcommand};

use gitml::import::dvc::{ImportOptions, ImportReport};

use super::{Ctx, Outcome, output};

/// Convert a project from another tool, in place
#[derive(Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    from: Tool,
}

#[derive(Subcommand)]
enum Tool {
    Dvc(DvcArgs),
}

/// Convert a DVC repository: `.dvc` files, `dvc.yaml`/`dvc.lock`, remotes, metrics, plots, models
///
/// Tracked data becomes `.gitml` pointers; content comes from the DVC cache (hard-linked where
/// possible) or the work tree, checked against DVC's md5. Stages become `[stages.*]` in
/// `gitml.toml`, and those DVC finds up to date get `gitml.lock` entries, so `git ml run` right
/// after the import runs nothing. What cannot be converted is listed with where it was and why.
/// The result is one working-tree change: review it with `git status` and commit it.
#[derive(Args)]
struct DvcArgs {
    /// Print the plan (files, stages, remotes, what will not convert); read no data, write nothing
    #[arg(short = 'n', long)]
    dry_run: bool,

    /// Leave DVC's files in place, so both tools work side by side during a trial
    #[arg(long)]
    keep_dvc: bool,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: ImportArgs) -> gitml::Result<Outcome> {
    let Tool::Dvc(args) = args.from;
    let ws = ctx.workspace()?;
    let opts = ImportOptions {
        dry_run: args.dry_run,
        keep_dvc: args.keep_dvc,
        overrides: ctx.overrides.clone(),
    };
    let report = gitml::import::dvc::import(&ws, &opts, &ctx.progress())?;
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    print_report(&report, ctx.quiet);
    Ok(Outcome::Ok)
}

fn print_report(r: &ImportReport, quiet: bool) {
    let verb = if r.dry_run {
        "would import"
    } else {
        "imported"
    };
    for d in &r.data {
        let what = match d.kind {
            gitml::data::pointer::Kind::File => output::size(d.size),
            gitml::data::pointer::Kind::Dir => format!(
                "{}, {}",
                output::plural(d.files, "file", "files"),
                output::size(d.size)
            ),
        };
        let to = match &d.pointer {
            Some(p) => format!("-> `{p}`"),
            None => "-> plain file in git".into(),
        };
        outln!(
            "{verb} `{}` ({what}) from `{}` {to} [{}]",
            d.path,
            d.from,
            d.source
        );
    }
    for s in &r.stages {
        let why = if s.reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", s.reasons.join("; "))
        };
        outln!("stage `{}` ({}): {}{why}", s.name, s.origin, s.state);
    }
    for m in &r.remotes {
        let d = if m.default { " (default)" } else { "" };
        outln!("remote `{}` -> `{}`{d}", m.name, m.url);
    }
    for m in &r.models {
        outln!("model `{m}`");
    }
    if !r.metrics_files.is_empty() {
        outln!("metrics files: {}", r.metrics_files.join(", "));
    }
    if !r.params_files.is_empty() {
        outln!("params files: {}", r.params_files.join(", "));
    }
    for p in &r.plots {
        outln!("plot `{p}`");
    }
    for n in &r.not_converted {
        outln!("not converted: {}: {}: {}", n.origin, n.what, n.why);
    }
    for w in &r.warnings {
        warning!("{w}");
    }
    if quiet {
        return;
    }
    if r.dry_run {
        eprintln!(
            "dry run: would write {}; would remove {}",
            r.written.len(),
            if r.keep_dvc {
                "nothing (--keep-dvc)".to_string()
            } else {
                r.removed.join(", ")
            }
        );
        return;
    }
    let modes: Vec<String> = r
        .link_modes
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    eprintln!(
        "hashed {} ({}){}",
        output::plural(r.hashed_files, "file", "files"),
        output::size(r.hashed_bytes),
        if modes.is_empty() {
            String::new()
        } else {
            format!("; into the cache by {}", modes.join(", "))
        }
    );
    if !r.removed.is_empty() {
        eprintln!("removed DVC files: {}", r.removed.join(", "));
    }
    eprintln!(
        "hint: review with `git status`, then commit: `git add -A && git commit -m 'Move from DVC to git-ml'`"
    );
}
