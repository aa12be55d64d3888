use clap::Args;

use super::{Ctx, Outcome, output};

/// Set up git-ml in this repository: `gitml.toml`, the cache, and git settings
///
/// Safe to run again: it only adds what is missing.
#[derive(Args)]
pub struct InitArgs {
    /// Create the example project (a scikit-learn tumour classifier with a pipeline, plots,
    /// gates and a model) in this new directory instead
    #[arg(long, value_name = "DIR")]
    example: Option<std::path::PathBuf>,

    /// Print the result as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: InitArgs) -> gitml::Result<Outcome> {
    if let Some(dir) = &args.example {
        let dir = ctx.cwd.join(dir);
        gitml::demo::write_project(&dir, &std::env::current_exe()?)?;
        if !ctx.quiet {
            outln!(
                "created the example project in `{}`",
                output::shown(&dir.display().to_string())
            );
            eprintln!(
                "hint: cd there, `python src/get_data.py`, `git ml add data/raw`, `git ml run` (README.md walks through it; `git ml demo` runs it all)"
            );
        }
        return Ok(Outcome::Ok);
    }
    let repo = gitml::repo::Repo::discover(&ctx.cwd)?;
    let config = gitml::config::Config::load(&repo.root, &repo.gitml_dir(), &ctx.overrides)?;
    for w in &config.warnings {
        warning!("{}", output::shown(w));
    }
    let report = gitml::init::init(&repo, &config.cache_dir)?;
    if args.json {
        output::json(&report)?;
    } else if ctx.quiet {
    } else if report.created.is_empty() {
        outln!("git-ml is already initialised in `{}`", report.root);
    } else {
        outln!("initialised git-ml in `{}`", report.root);
        for c in &report.created {
            outln!("  created {c}");
        }
        eprintln!(
            "hint: commit `gitml.toml` and `.gitignore`, then track data with `git ml add <path>`"
        );
    }
    Ok(Outcome::Ok)
}
