//! Rendering helpers: sizes, JSON, and progress bars that only appear on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use gitml::progress::Progress;

/// Whether output is coloured (decided once, at start: see [`decide_color`]).
static COLOR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--color`: auto (the default), always, never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Decide colour the git way: `--color`, else `NO_COLOR` (off), else `CLICOLOR_FORCE` (on), else
/// git's `color.gitml` or `color.ui` (`always`, `never`, `auto`), and auto means stdout is a
/// terminal or git's pager (`GIT_PAGER_IN_USE`, set by `git config pager.ml true`).
pub fn decide_color(flag: Option<ColorChoice>) {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let on = match flag {
        Some(ColorChoice::Always) => true,
        Some(ColorChoice::Never) => false,
        _ if env("NO_COLOR").is_some() => false,
        _ if env("CLICOLOR_FORCE").is_some_and(|v| v != "0") => true,
        _ => {
            let terminal = std::io::stdout().is_terminal() || env("GIT_PAGER_IN_USE").is_some();
            // Reading git's config costs a process: only when it could turn colour on.
            let setting = if terminal { git_color_setting() } else { None };
            match setting.as_deref() {
                Some("always") => true,
                Some("never") | Some("false") => false,
                _ => terminal,
            }
        }
    };
    COLOR.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn git_color_setting() -> Option<String> {
    for key in ["color.gitml", "color.ui"] {
        let out = std::process::Command::new("git")
            .args(["config", "--get", key])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        let v = String::from_utf8_lossy(&out.stdout)
            .trim()
            .to_ascii_lowercase();
        if !v.is_empty() {
            return Some(v);
        }
    }
    None
}

pub fn color() -> bool {
    COLOR.load(std::sync::atomic::Ordering::Relaxed)
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

static LOG_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_log_format(f: LogFormat) {
    LOG_JSON.store(f == LogFormat::Json, std::sync::atomic::Ordering::Relaxed);
}

/// Whether stderr carries JSON log lines (`--log-format json`).
pub fn log_json() -> bool {
    LOG_JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// A warning (see the `warning!` macro): text on stderr, or a JSON log event. Secrets redacted.
pub fn warning(args: std::fmt::Arguments<'_>) {
    let text = gitml::error::redact(&args.to_string());
    if log_json() {
        tracing::warn!(target: "gitml", "{text}");
    } else {
        eprintln!("warning: {}", shown(&text));
    }
}

/// `text` in the colour of `t`, when colour is on (anstyle renders the escape codes).
pub fn tone(t: gitml::report::diff::Tone, text: &str) -> String {
    use anstyle::{AnsiColor, Style};
    if !color() {
        return text.to_string();
    }
    let style = match t {
        gitml::report::diff::Tone::Good => Style::new().fg_color(Some(AnsiColor::Green.into())),
        gitml::report::diff::Tone::Bad => Style::new().fg_color(Some(AnsiColor::Red.into())).bold(),
        gitml::report::diff::Tone::Warn => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
    };
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// A table for the terminal: as wide as the terminal when stdout is one (long cells wrap), and
/// never wrapped or cut in a pipe.
pub fn table() -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    if std::io::stdout().is_terminal() && t.width().is_some_and(|w| w >= 20) {
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    }
    t
}

/// How wide a path column may be on a terminal: the terminal's width less `others` (the other
/// columns), at least 24; `None` in a pipe, where nothing is cut.
pub fn path_room(table: &comfy_table::Table, others: usize) -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    // A pseudo-terminal nobody sized reports 0 columns: treat it as unknown.
    table
        .width()
        .filter(|&w| w >= 20)
        .map(|w| usize::from(w).saturating_sub(others).max(24))
}

/// A table whose first column is a path (cells already escaped): on a terminal the path is elided
/// in the middle so that the row fits the terminal's width beside the other columns.
pub fn path_table(header: &[&str], mut rows: Vec<Vec<String>>) -> comfy_table::Table {
    let mut table = table();
    // Each column is its widest cell plus one space of padding either side.
    let others: usize = (1..header.len())
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
                + 2
        })
        .sum::<usize>()
        + 2;
    let room = path_room(&table, others);
    for row in &mut rows {
        if let Some(path) = row.first_mut() {
            *path = elide_middle(path, room);
        }
    }
    table.set_header(header.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    table
}

/// `s` cut to `width` characters by eliding its middle (`data/ra…/part-0001.csv`), so both the
/// start and the file name stay readable; unchanged when it fits or `width` is `None`.
pub fn elide_middle(s: &str, width: Option<usize>) -> String {
    let n = s.chars().count();
    match width {
        Some(w) if n > w && w >= 3 => {
            let keep = w - 1;
            let head = keep / 2;
            let tail = keep - head;
            let mut out: String = s.chars().take(head).collect();
            out.push('…');
            out.extend(s.chars().skip(n - tail));
            out
        }
        _ => s.to_string(),
    }
}

/// Write to stdout. A reader that went away (`| head`, a pager quit) ends the process here, quietly
/// and with exit code 0, as `git log | head` does: the one place that handles a closed stdout.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        closed_or_exit(&e);
    }
}

/// Flush stdout, ending quietly if the reader is gone.
pub fn flush_stdout() {
    if let Err(e) = std::io::stdout().lock().flush() {
        closed_or_exit(&e);
    }
}

fn closed_or_exit(e: &std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing to stdout: {e}");
    std::process::exit(super::EXIT_ERROR as i32);
}

pub fn size(bytes: u64) -> String {
    gitml::text::size(bytes)
}

/// A name from the repository (a path, a metric, a stage) as it may be shown on a terminal:
/// control characters escaped, so no escape sequence in a file name acts on the terminal.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    gitml::text::escape_control(s)
}

/// Cells for a table row (or header): control characters escaped, as [`shown`] does, so a name
/// from the repository cannot act on the terminal. Coloured cells are added after, with [`tone`].
pub fn cells<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> Vec<String> {
    cells
        .into_iter()
        .map(|c| shown(c.as_ref()).into_owned())
        .collect()
}

/// Print a table on stdout, line by line, trailing spaces trimmed. Its cells come from [`cells`]
/// (escaped) or [`tone`] (our own colour codes).
pub fn print_table(table: &impl std::fmt::Display) {
    for line in table.to_string().lines() {
        outln!("{}", line.trim_end());
    }
}

pub fn plural(n: u64, one: &str, many: &str) -> String {
    gitml::text::plural(n, one, many)
}

/// Whether this process printed its JSON result already (an error after it must not print a
/// second JSON document on stdout).
pub static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Print a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> gitml::Result<()> {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    // Buffered: stdout is line-buffered, and pretty JSON is one write per line otherwise (13,000
    // writes for a 1,000-commit `log --json`).
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::other)
        .and_then(|_| writeln!(out))
        .and_then(|_| out.flush());
    if let Err(e) = written {
        // serde_json wraps the I/O error; a closed pipe is still a closed pipe.
        let broken =
            e.kind() == std::io::ErrorKind::BrokenPipe || e.to_string().contains("Broken pipe");
        if broken {
            std::process::exit(0);
        }
        return Err(e.into());
    }
    Ok(())
}

/// Progress bars on stderr when it is a terminal; nothing otherwise.
pub struct TermProgress {
    enabled: bool,
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
    phase: Mutex<String>,
}

impl TermProgress {
    pub fn new(quiet: bool) -> TermProgress {
        TermProgress {
            enabled: !quiet && std::io::stderr().is_terminal(),
            quiet,
            bar: Mutex::new(None),
            phase: Mutex::new(String::new()),
        }
    }
}

impl Progress for TermProgress {
    fn start(&self, phase: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(phase.to_string());
        *self.phase.lock().expect("progress phase") = phase.to_string();
        *self.bar.lock().expect("progress bar") = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = self.bar.lock().expect("progress bar").as_ref() {
            bar.inc(n);
        }
    }

    fn items(&self, done: u64, total: u64) {
        if let Some(bar) = self.bar.lock().expect("progress bar").as_ref() {
            let phase = self.phase.lock().expect("progress phase");
            bar.set_message(format!("{phase} {done}/{total} objects"));
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().expect("progress bar").take() {
            bar.finish_and_clear();
        }
    }

    fn message(&self, msg: &str) {
        if self.quiet {
            return;
        }
        match self.bar.lock().expect("progress bar").as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::elide_middle;

    #[test]
    fn elide_middle_keeps_both_ends_and_the_width() {
        let p = "data/raw/2026/12/03/part-000123.csv";
        assert_eq!(elide_middle(p, None), p);
        assert_eq!(elide_middle(p, Some(100)), p);
        let cut = elide_middle(p, Some(20));
        assert_eq!(cut.chars().count(), 20);
        assert!(
            cut.starts_with("data/raw/") && cut.ends_with("123.csv"),
            "{cut}"
        );
        // Multi-byte characters are cut on character boundaries.
        let cut = elide_middle("ééééééééééééééééé", Some(5));
        assert_eq!(cut, "éé…éé");
    }
}
