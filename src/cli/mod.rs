//! The command line: argument parsing (clap derive; the doc comments are the help text), output
//! rendering, error reporting and exit codes.
//!
//! Exit codes are a contract (docs/cli.md): 0 success; 1 the command ran and found something to
//! report (a dirty status, corrupt objects); 2 an error, including bad usage; 130 interrupted.
//! Data goes to stdout, progress and diagnostics to stderr.

/// Print to stdout through the output layer (a closed pipe ends the process quietly, with 0).
macro_rules! out {
    ($($t:tt)*) => { $crate::cli::output::write_stdout(format_args!($($t)*)) };
}

/// [`out!`] with a newline.
macro_rules! outln {
    () => { $crate::cli::output::write_stdout(format_args!("\n")) };
    ($($t:tt)*) => {{
        $crate::cli::output::write_stdout(format_args!($($t)*));
        $crate::cli::output::write_stdout(format_args!("\n"));
    }};
}

/// A warning on stderr: `warning: ...` (control characters escaped), or a JSON log event with
/// `--log-format json`.
macro_rules! warning {
    ($($t:tt)*) => { $crate::cli::output::warning(format_args!($($t)*)) };
}

mod add;
mod check;
mod checkout;
mod ci;
mod completions;
mod dag;
mod data;
mod demo;
mod diff;
mod export;
mod fetch;
mod gc;
mod hook;
mod import;
mod init;
mod install_hooks;
mod log;
mod ls;
mod man;
mod merge_driver;
mod model;
mod output;
mod plots;
mod pull;
mod push;
mod record;
mod remote;
mod report;
mod rm;
mod run;
mod show;
mod status;
mod transfer;
mod verify;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use gitml::Workspace;

pub const EXIT_FOUND: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Version data, models and results with your git commits.
///
/// git-ml tracks large files and directories by content hash: a small `.gitml` pointer is
/// committed, the content lives in a local cache (and on remotes). Run it as `git ml`.
#[derive(Parser)]
#[command(
    name = "git-ml",
    bin_name = "git ml",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in PATH
    #[arg(short = 'C', global = true, value_name = "PATH")]
    directory: Option<PathBuf>,

    /// Colour: auto (a terminal, or git's pager), always, never; also `NO_COLOR`,
    /// `CLICOLOR_FORCE`, and git's `color.gitml` / `color.ui`
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    color: Option<output::ColorChoice>,

    /// Override a setting for this run, e.g. `-c cache.link=hardlink` (see docs/configuration.md)
    #[arg(short = 'c', global = true, value_name = "KEY=VALUE")]
    config: Vec<String>,

    /// More logging on stderr (-v info, -vv debug); `GITML_LOG` sets a filter
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Only results, warnings and errors: no progress, no per-path lines of commands that change
    /// things, no hints
    #[arg(short, long, global = true)]
    quiet: bool,

    /// Logs, warnings and errors on stderr as text, or as JSON lines (one object per event, for
    /// ELK, Fluentd, Loki)
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = output::LogFormat::Text)]
    log_format: output::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Init(init::InitArgs),
    Import(import::ImportArgs),
    Add(add::AddArgs),
    Status(status::StatusArgs),
    Checkout(checkout::CheckoutArgs),
    Rm(rm::RmArgs),
    Ls(ls::LsArgs),
    Verify(verify::VerifyArgs),
    Remote(remote::RemoteArgs),
    Push(push::PushArgs),
    Fetch(fetch::FetchArgs),
    Pull(pull::PullArgs),
    Gc(gc::GcArgs),
    Record(record::RecordArgs),
    Show(show::ShowArgs),
    Log(log::LogArgs),
    Export(export::ExportArgs),
    Diff(diff::DiffArgs),
    Data(data::DataArgs),
    Run(run::RunArgs),
    Check(check::CheckArgs),
    Ci(ci::CiArgs),
    Model(model::ModelArgs),
    Report(report::ReportArgs),
    Plots(plots::PlotsArgs),
    Dag(dag::DagArgs),
    Demo(demo::DemoArgs),
    MergeDriver(merge_driver::MergeDriverArgs),
    Hook(hook::HookArgs),
    InstallHooks(install_hooks::InstallHooksArgs),
    UninstallHooks(install_hooks::UninstallHooksArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
}

/// What a command hands back to `main`: success, or "ran fine, but found something" (exit 1).
pub enum Outcome {
    Ok,
    Found,
    /// Stopped by Ctrl-C or SIGTERM (exit 130).
    Interrupted,
}

pub struct Ctx {
    pub cwd: PathBuf,
    pub overrides: Vec<String>,
    pub quiet: bool,
    pub verbose: u8,
}

impl Ctx {
    pub fn workspace(&self) -> gitml::Result<Workspace> {
        let ws = Workspace::open(&self.cwd, &self.overrides)?;
        for w in &ws.config.warnings {
            warning!("{}", output::shown(w));
        }
        Ok(ws)
    }

    pub fn progress(&self) -> output::TermProgress {
        output::TermProgress::new(self.quiet)
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    output::set_log_format(cli.log_format);
    init_tracing(cli.verbose, cli.log_format);
    output::decide_color(cli.color);
    let cwd = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => {
            return report(&gitml::Error::Other(format!(
                "cannot read the current directory: {e}"
            )));
        }
    };
    let cwd = match &cli.directory {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    let ctx = Ctx {
        cwd,
        overrides: cli.config,
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Import(a) => import::run(&ctx, a),
        Command::Add(a) => add::run(&ctx, a),
        Command::Status(a) => status::run(&ctx, a),
        Command::Checkout(a) => checkout::run(&ctx, a),
        Command::Rm(a) => rm::run(&ctx, a),
        Command::Ls(a) => ls::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Remote(a) => remote::run(&ctx, a),
        Command::Push(a) => push::run(&ctx, a),
        Command::Fetch(a) => fetch::run(&ctx, a),
        Command::Pull(a) => pull::run(&ctx, a),
        Command::Gc(a) => gc::run(&ctx, a),
        Command::Record(a) => record::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Log(a) => log::run(&ctx, a),
        Command::Export(a) => export::run(&ctx, a),
        Command::Diff(a) => diff::run(&ctx, a),
        Command::Data(a) => data::run(&ctx, a),
        Command::Run(a) => run::run(&ctx, a),
        Command::Check(a) => check::run(&ctx, a),
        Command::Ci(a) => ci::run(&ctx, a),
        Command::Model(a) => model::run(&ctx, a),
        Command::Report(a) => report::run(&ctx, a),
        Command::Plots(a) => plots::run(&ctx, a),
        Command::Dag(a) => dag::run(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::MergeDriver(a) => merge_driver::run(&ctx, a),
        Command::Hook(a) => hook::run(&ctx, a),
        Command::InstallHooks(a) => install_hooks::install(&ctx, a),
        Command::UninstallHooks(a) => install_hooks::uninstall(&ctx, a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
    };
    output::flush_stdout();
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::from(EXIT_FOUND),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(gitml::Error::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            if json_requested() && !output::JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed)
            {
                // A caller that asked for JSON parses stdout: give it the error there too.
                let redact = gitml::error::redact;
                let _ = output::json(&serde_json::json!({
                    "error": redact(&e.to_string()),
                    "hint": e.hint().map(|h| redact(&h)),
                }));
            }
            report(&e)
        }
    }
}

/// Whether the command line asked for `--json` (before any `--`).
fn json_requested() -> bool {
    std::env::args()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json" || a == "--format=json")
}

fn report(e: &gitml::Error) -> ExitCode {
    let mut err = std::io::stderr().lock();
    // Every line passes through `redact`: no key or token reaches the terminal or a CI log.
    // ... and through `shown`: a file name's escape sequences never reach the terminal.
    let redact = |s: &str| output::shown(&gitml::error::redact(s)).into_owned();
    if output::log_json() {
        let hint = e.hint().map(|h| gitml::error::redact(&h));
        tracing::error!(target: "gitml", hint, "{}", gitml::error::redact(&e.to_string()));
        return ExitCode::from(EXIT_ERROR);
    }
    let _ = writeln!(err, "error: {}", redact(&e.to_string()));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        // fs-err and transparent variants repeat their cause in the message; skip echoes.
        if !e.to_string().contains(&s.to_string()) {
            let _ = writeln!(err, "  caused by: {}", redact(&s.to_string()));
        }
        source = s.source();
    }
    if let Some(h) = e.hint() {
        let _ = writeln!(err, "hint: {}", redact(&h));
    }
    ExitCode::from(EXIT_ERROR)
}

fn init_tracing(verbose: u8, format: output::LogFormat) {
    let json = format == output::LogFormat::Json;
    let filter = match (std::env::var("GITML_LOG"), verbose) {
        (Ok(f), _) => f,
        // JSON logs carry warnings and errors too, so there is always a subscriber.
        (Err(_), 0) if json => "gitml=warn".into(),
        (Err(_), 0) => return,
        (Err(_), 1) => "gitml=info".into(),
        (Err(_), _) => "gitml=debug".into(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
