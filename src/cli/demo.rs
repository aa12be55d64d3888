use std::path::PathBuf;

use clap::Args;

use super::{Ctx, Outcome, output};

/// The whole story in one command, on a real project, offline
///
/// Creates a scikit-learn project (a tumour classifier on a data set scikit-learn ships) in a new
/// directory and walks through git-ml: track the data, run the pipeline, commit (the run lands on
/// its commit), branch and change a param (only what depends on it runs; the run cache restores
/// on revert), diff and gate against main, the pull-request report exactly as the Action posts
/// it, the merge (register and promote the model), the production model by name, and pushing
/// everything to a remote and pulling it into a fresh clone. Uses your Python when it has
/// scikit-learn, else makes a venv in the directory from PyPI.
#[derive(Args)]
pub struct DemoArgs {
    /// Where (a new or empty directory)
    #[arg(default_value = "git-ml-demo")]
    dir: PathBuf,

    /// Print the transcript as JSON at the end
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Ctx, args: DemoArgs) -> gitml::Result<Outcome> {
    let dir = ctx.cwd.join(&args.dir);
    let me = std::env::current_exe()?;
    if !ctx.quiet {
        outln!(
            "git-ml demo in {}",
            output::shown(&dir.display().to_string())
        );
    }
    let quiet = ctx.quiet;
    let report = gitml::demo::run(&dir, &me, &mut |line| {
        if !quiet {
            outln!("{}", output::shown(line));
        }
    })?;
    if args.json {
        output::json(&report)?;
        return Ok(Outcome::Ok);
    }
    if !ctx.quiet {
        let p = |x: &std::path::Path| output::shown(&x.display().to_string()).into_owned();
        outln!();
        outln!("The pull-request report: {}", p(&report.report_md));
        outln!("                as HTML: {}", p(&report.report_html));
        outln!();
        outln!("Explore (in {}):", p(&report.dir.join("project")));
        for c in [
            "git ml log                      # metric history with sparklines",
            "git ml diff main~1 main         # what the merge did",
            "git ml report --base main~1 --format html -o report.html",
            "git ml plots diff main~1 main --format html -o plots.html",
            "git ml model show               # versions and stages",
            "git ml dag                      # the pipeline",
        ] {
            outln!("  {c}");
        }
    }
    Ok(Outcome::Ok)
}
