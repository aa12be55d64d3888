use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use gitml::plots::{self, Report, Revision};
use gitml::record::diff::WORKSPACE;

use super::{Ctx, Outcome, output};

/// Plots declared in `gitml.toml`, at one revision or overlaid across several
///
/// `[plots.NAME]` sections and the `plots` paths of stages name JSON, CSV, TSV or YAML series
/// (ROC and PR curves, training curves), confusion matrices and images (docs/configuration.md).
/// They render as Markdown with Mermaid charts (for pull-request comments), a self-contained HTML
/// page with inline SVG, or JSON. Nothing is uploaded. Exit code 1 when some plot file could not
/// be read at some revision (the output still shows everything else).
#[derive(Args)]
pub struct PlotsArgs {
    #[command(subcommand)]
    command: PlotsCommand,
}

#[derive(Subcommand)]
enum PlotsCommand {
    Show(ShowArgs),
    Diff(DiffArgs),
}

/// The plots of one revision (default: the working tree)
#[derive(Args)]
struct ShowArgs {
    /// A branch, tag or commit, or `workspace` for the working tree
    rev: Option<String>,

    #[command(flatten)]
    output: OutputArgs,
}

/// Plots of several revisions overlaid, one colour per revision
///
/// Without revisions: the merge-base with the default branch against the working tree (as `git
/// ml diff`); with one: it against the working tree; with more, those, oldest first. `workspace`
/// names the working tree.
#[derive(Args)]
struct DiffArgs {
    /// Revisions to overlay
    revs: Vec<String>,

    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Args)]
struct OutputArgs {
    /// `md`: GitHub Markdown with Mermaid charts; `html`: one self-contained page; `json`: the
    /// data (schema: docs/cli.md)
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,

    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Md,
    Html,
    Json,
}

pub fn run(ctx: &Ctx, args: PlotsArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let (revisions, output) = match args.command {
        PlotsCommand::Show(a) => (
            vec![revision(&ws, a.rev.as_deref().unwrap_or(WORKSPACE))?],
            a.output,
        ),
        PlotsCommand::Diff(a) => (diff_revisions(&ws, &a.revs)?, a.output),
    };
    let decls = plots::declared(&ws)?;
    if decls.is_empty() && !ctx.quiet {
        warning!("no plots are declared");
        eprintln!(
            "hint: add `[plots.NAME]` with `path = \"...\"` to gitml.toml, or `plots = [...]` to a stage"
        );
    }
    let report = plots::build(&ws, &decls, &revisions)?;
    // Messages quote file names and fields from the repository: escaped for the terminal.
    let shown = output::shown;
    if !ctx.quiet {
        for w in &report.warnings {
            warning!("{}", shown(&w.message));
        }
    }
    let errors = report.errors();
    for e in &errors {
        let line = format!("`{}` at {}: {}", e.path, e.rev, e.message);
        eprintln!("error: {}", shown(&line));
        if let Some(h) = e.hint {
            eprintln!("hint: {}", shown(h));
        }
    }
    let found = !errors.is_empty();
    let text = render(&report, output.format)?;
    match &output.output {
        Some(f) => gitml::fsutil::atomic_write(&ctx.cwd.join(f), text.as_bytes(), 0o644)?,
        None => out!("{text}"),
    }
    Ok(if found { Outcome::Found } else { Outcome::Ok })
}

fn render(report: &Report, format: Format) -> gitml::Result<String> {
    Ok(match format {
        Format::Md => plots::markdown::document(report),
        Format::Html => plots::html::page(report),
        Format::Json => serde_json::to_string_pretty(report).map_err(std::io::Error::other)? + "\n",
    })
}

fn revision(ws: &gitml::Workspace, rev: &str) -> gitml::Result<Revision> {
    if rev == WORKSPACE {
        return Ok(Revision {
            rev: WORKSPACE.into(),
            commit: None,
        });
    }
    Ok(Revision {
        rev: rev.to_string(),
        commit: Some(gitml::git::resolve_commit(ws.root(), rev)?),
    })
}

fn diff_revisions(ws: &gitml::Workspace, revs: &[String]) -> gitml::Result<Vec<Revision>> {
    match revs {
        [] => {
            let (base, new) = gitml::record::diff::resolve(ws, None, None)?;
            let mut old = revision(ws, &base)?;
            // Name the merge-base after the branch it was taken with.
            if let Ok(branch) = gitml::record::diff::default_branch(ws) {
                old.rev = format!("merge-base with {branch}");
            }
            Ok(vec![old, revision(ws, &new)?])
        }
        [a] => Ok(vec![revision(ws, a)?, revision(ws, WORKSPACE)?]),
        many => many.iter().map(|r| revision(ws, r)).collect(),
    }
}
