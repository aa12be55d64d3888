//! Rendering helpers: sizes, JSON, and progress bars that only appear on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use gitml::progress::Progress;

pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A name from the repository (a path, a metric, a stage) as it may be shown on a terminal:
/// control characters escaped, so no escape sequence in a file name acts on the terminal.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    gitml::text::escape_control(s)
}

/// Print a table on stdout, line by line, trailing spaces trimmed and control characters in its
/// cells escaped.
pub fn print_table(table: &impl std::fmt::Display) {
    for line in table.to_string().lines() {
        println!("{}", shown(line.trim_end()));
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
    serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::other)?;
    writeln!(out)?;
    out.flush()?;
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
