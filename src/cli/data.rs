use clap::{Args, Subcommand};

use super::{Ctx, Outcome, output};

/// Profiles of tracked tables (CSV, TSV, JSON Lines): schema, rows, nulls, drift
#[derive(Args)]
pub struct DataArgs {
    #[command(subcommand)]
    command: DataCommand,
}

#[derive(Subcommand)]
enum DataCommand {
    Show(ShowArgs),
    Diff(DiffArgs),
}

/// Show a table's profile: columns, types, nulls, distinct values, numbers, top values
///
/// PATH is a tracked table, a table inside a tracked directory, or any CSV, TSV or JSON Lines
/// file in the working tree. Without `--rev` the working tree's file is profiled as it is now;
/// with it, the content that revision's pointer names. A profile is computed once per content
/// and kept in the cache.
#[derive(Args)]
pub struct ShowArgs {
    /// The table
    path: String,

    /// The revision whose content to profile (default: the working tree's file)
    #[arg(long, value_name = "REV")]
    rev: Option<String>,

    /// Compute the profile again instead of reading the stored one (and store the result)
    #[arg(long)]
    recompute: bool,

    /// Print the profile as JSON (schema: docs/data-checks.md)
    #[arg(long)]
    json: bool,
}

/// What changed in tracked tables between two revisions: schema, rows, nulls, drift
///
/// `git ml data diff` compares the merge-base with the default branch to the working tree's
/// pointers; `git ml data diff A` compares A to them; `git ml data diff A B` two revisions. A
/// last argument that is not a revision is a path: one table, or a tracked directory's tables.
/// Drift is PSI for numbers and the Jensen–Shannon distance for categories, against their
/// default thresholds (0.2 and 0.1); the data gates in gitml.toml set their own.
#[derive(Args)]
pub struct DiffArgs {
    /// [A] [B] [PATH]
    #[arg(value_name = "ARGS", num_args = 0..=3)]
    args: Vec<String>,

    /// Include unchanged tables
    #[arg(long)]
    all: bool,

    /// Print the result as JSON (schema: docs/data-checks.md)
    #[arg(long, conflicts_with = "md")]
    json: bool,

    /// Print GitHub-flavoured Markdown
    #[arg(long)]
    md: bool,
}

pub fn run(ctx: &Ctx, args: DataArgs) -> gitml::Result<Outcome> {
    match args.command {
        DataCommand::Show(a) => show(ctx, a),
        DataCommand::Diff(a) => diff(ctx, a),
    }
}

fn show(ctx: &Ctx, args: ShowArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let path = ws
        .repo
        .relativize(&ws.cwd, std::path::Path::new(&args.path))?;
    let (profile, display) = match &args.rev {
        None => {
            let abs = ws.abs(&path);
            let meta = std::fs::metadata(&abs)
                .map_err(|_| gitml::Error::NotFound(std::path::PathBuf::from(&args.path)))?;
            if !meta.is_file() {
                return Err(gitml::Error::Table {
                    file: path.clone(),
                    message: "not a file: name a table inside it (`git ml ls` lists them)".into(),
                });
            }
            gitml::profile::Format::of(&path).map_err(|message| gitml::Error::Table {
                file: path.clone(),
                message,
            })?;
            let (oid, _) = gitml::data::cache::hash_file(&abs)?;
            let stored = (!args.recompute)
                .then(|| gitml::profile::read_local(&ws, &oid))
                .flatten();
            let p = match stored {
                Some(p) => p,
                None => {
                    let p = gitml::profile::compute(&abs, &path, oid, ws.config.jobs)?;
                    // The file may have changed while it was read: store only a profile of
                    // the bytes that were hashed.
                    if gitml::data::cache::hash_file(&abs)?.0 == oid {
                        gitml::profile::write_local(&ws, &p)?;
                    }
                    p
                }
            };
            (p, path)
        }
        Some(rev) => {
            let (_, side, tables, notes) = gitml::record::diff::tables(&ws, rev, rev, Some(&path))?;
            let Some(t) = tables.into_iter().find(|t| t.path == path) else {
                for n in notes {
                    warning!("{}", output::shown(&n));
                }
                return Err(gitml::Error::Other(format!(
                    "`{}` is not a tracked table at {} (tables are tracked files, or files inside tracked directories, that `[data] profile` selects: by default *.csv, *.tsv, *.jsonl, *.ndjson)",
                    gitml::text::escape_control(&path),
                    gitml::text::escape_control(&side.rev)
                )));
            };
            let loaded = if args.recompute {
                gitml::profile::load(&ws, &t.path, t.new_oid, true)
            } else {
                t.new
            };
            match loaded {
                gitml::profile::Loaded::Profile(p) => (p, path),
                gitml::profile::Loaded::Failed(e) => return Err(gitml::Error::Other(e)),
                gitml::profile::Loaded::Missing(why) => {
                    return Err(gitml::Error::Other(format!(
                        "{}: {why}",
                        gitml::text::escape_control(&path)
                    )));
                }
                gitml::profile::Loaded::Absent => unreachable!("found on this side"),
            }
        }
    };
    if args.json {
        output::json(&serde_json::json!({ "path": display, "profile": profile }))?;
    } else {
        out!(
            "{}",
            gitml::report::data::show(&display, &profile, gitml::report::data::Out { md: false })
        );
    }
    Ok(Outcome::Ok)
}

fn diff(ctx: &Ctx, args: DiffArgs) -> gitml::Result<Outcome> {
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let mut revs = Vec::new();
    let mut path = None;
    for (i, a) in args.args.iter().enumerate() {
        let is_rev =
            a == gitml::record::diff::WORKSPACE || gitml::git::resolve_commit(ws.root(), a).is_ok();
        if is_rev && path.is_none() && revs.len() < 2 {
            revs.push(a.clone());
        } else if i == args.args.len() - 1 && path.is_none() {
            path = Some(ws.repo.relativize(&ws.cwd, std::path::Path::new(a))?);
        } else {
            return Err(gitml::Error::UnknownRevision(a.clone()));
        }
    }
    let (a, b) = gitml::record::diff::resolve(
        &ws,
        revs.first().map(String::as_str),
        revs.get(1).map(String::as_str),
    )?;
    let (old, new, tables, notes) = gitml::record::diff::tables(&ws, &a, &b, path.as_deref())?;
    for n in &notes {
        warning!("{}", output::shown(n));
    }
    let gates = gitml::profile::gate::gates(&ws.config.project)?;
    let diffs: Vec<_> = tables.iter().map(|t| t.diff(&gates)).collect();
    if args.json {
        output::json(&serde_json::json!({
            "old": old,
            "new": new,
            "tables": diffs.iter().filter(|t| args.all || t.changed()).collect::<Vec<_>>(),
        }))?;
    } else {
        let label = gitml::report::check::side_label;
        if args.md {
            out!(
                "**{}** → **{}**\n\n",
                gitml::text::markdown(&label(&old)),
                gitml::text::markdown(&label(&new))
            );
        } else {
            out!(
                "{} -> {}\n\n",
                gitml::text::escape_control(&label(&old)),
                gitml::text::escape_control(&label(&new))
            );
        }
        out!(
            "{}",
            gitml::report::data::diff(&diffs, args.all, gitml::report::data::Out { md: args.md })
        );
    }
    Ok(Outcome::Ok)
}
