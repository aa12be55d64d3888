use std::path::PathBuf;

use clap::{Args, ValueEnum};

use gitml::ci::{self, CiOptions, Mode};

use super::{Ctx, Outcome, output};

/// Do what a CI job should, for the event it runs for (the GitHub Action runs this)
///
/// On a pull request: fetch run records, tags and the base's history, pull the data and the run
/// cache, run what changed, record the run on the PR head, check the gates against the base,
/// write the report (files, job summary, step outputs), post one sticky comment and a commit
/// status, push the records, and exit with the gates' verdict. On a push to the default branch:
/// copy the merged PR's runs when the tree is its head's (else run), register the model and
/// promote it, push data, records and tags. `report` gates on runs already recorded (a matrix's);
/// `run` runs and records. See docs/ci.md.
#[derive(Args)]
pub struct CiArgs {
    /// auto (from the event), pr, merge, report or run
    #[arg(value_enum, default_value_t = ModeArg::Auto)]
    mode: ModeArg,

    /// Where the job runs: github (GitHub Actions), generic (any other CI: report files and exit
    /// codes), or auto (github when GITHUB_ACTIONS=true)
    #[arg(long, value_enum, default_value_t = ProviderArg::Auto)]
    provider: ProviderArg,

    /// Stages to run (default: all that are stale)
    #[arg(long, value_name = "STAGE", value_delimiter = ',')]
    targets: Vec<String>,

    /// The model a merge registers (default: the only `[models.*]`)
    #[arg(long, value_name = "NAME")]
    model: Option<String>,

    /// The stage a merge promotes the new version to (e.g. `staging`)
    #[arg(long, value_name = "STAGE")]
    promote_to: Option<String>,

    /// The data remote (default: `core.remote`)
    #[arg(short, long, value_name = "NAME")]
    remote: Option<String>,

    /// Post the report as a pull-request comment (true|false)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    comment: bool,

    /// Exit 1 when a gate fails (false: report only)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    fail_on_gate: bool,

    /// Where the report files go (default: $RUNNER_TEMP/git-ml, else ./git-ml-report)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// The git remote to fetch from and push to
    #[arg(long, default_value = "origin", value_name = "NAME")]
    git_remote: String,

    /// Run the stages even when up to date (a matrix of seeds: each job records its own run)
    #[arg(long)]
    force: bool,

    /// `post`: the report file (Markdown) to post
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,

    /// Print what the job did as JSON
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Auto,
    Pr,
    Merge,
    Report,
    Run,
    /// Post a report file made by another workflow (the fork-safe split); needs no repository
    Post,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProviderArg {
    Auto,
    Github,
    Generic,
}

fn github_provider() -> gitml::Result<ci::github::GitHubProvider> {
    let token = std::env::var("GITML_GITHUB_TOKEN")
        .or_else(|_| std::env::var("GITHUB_TOKEN"))
        .ok();
    ci::github::GitHubProvider::from_env(token.as_deref())
}

pub fn run(ctx: &Ctx, args: CiArgs) -> gitml::Result<Outcome> {
    if let ModeArg::Post = args.mode {
        let file = args.report.as_ref().ok_or_else(|| {
            gitml::Error::Other("`post` needs `--report FILE` (the Markdown report)".into())
        })?;
        let text = fs_err::read_to_string(ctx.cwd.join(file))?;
        let report = ci::post(&github_provider()?, &text)?;
        for n in &report.notes {
            eprintln!("note: {}", output::shown(n));
        }
        if args.json {
            output::json(&report)?;
        }
        return Ok(Outcome::Ok);
    }
    let ws = ctx.workspace()?;
    ws.require_initialised()?;
    let out = args.out.clone().unwrap_or_else(|| {
        std::env::var_os("RUNNER_TEMP")
            .map(|t| PathBuf::from(t).join("git-ml"))
            .unwrap_or_else(|| ws.cwd.join("git-ml-report"))
    });
    let github = match args.provider {
        ProviderArg::Github => true,
        ProviderArg::Generic => false,
        ProviderArg::Auto => std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true"),
    };
    let provider: Box<dyn ci::Provider> = if github {
        Box::new(github_provider()?)
    } else {
        Box::new(ci::generic::GenericProvider::new(ws.root(), out.clone()))
    };
    let opts = CiOptions {
        mode: match args.mode {
            ModeArg::Auto => Mode::Auto,
            ModeArg::Pr => Mode::Pr,
            ModeArg::Merge => Mode::Merge,
            ModeArg::Report => Mode::Report,
            ModeArg::Run => Mode::Run,
            ModeArg::Post => unreachable!("handled above"),
        },
        targets: args.targets,
        model: args.model,
        promote_to: args.promote_to,
        remote: args.remote,
        comment: args.comment,
        fail_on_gate: args.fail_on_gate,
        out_dir: out,
        git_remote: args.git_remote,
        force: args.force,
    };
    let log = |line: &str| eprintln!("{}", output::shown(line));
    let report = ci::run(&ws, provider.as_ref(), &opts, &log)?;
    if args.json {
        output::json(&report)?;
    } else if !ctx.quiet {
        for f in &report.fetched {
            eprintln!("fetched {}", output::shown(f));
        }
        for n in &report.notes {
            eprintln!("note: {}", output::shown(n));
        }
        eprintln!(
            "git-ml ci ({}, {}): verdict {}{}",
            report.provider,
            report.mode,
            report.verdict,
            report
                .report_files
                .first()
                .map(|f| format!("; report in {}", f.display()))
                .unwrap_or_default()
        );
    }
    Ok(match report.exit_code {
        0 => Outcome::Ok,
        _ => Outcome::Found,
    })
}
