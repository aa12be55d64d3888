//! Plots: series (ROC and PR curves, training curves), confusion matrices and images declared in
//! `gitml.toml`, read at one or more revisions and rendered overlaid as self-contained HTML
//! (inline SVG), GitHub Markdown (Mermaid `xychart-beta`) or JSON. Nothing is uploaded anywhere.
//!
//! The invariant: a bad plot file never stops the others. Each (plot, revision) carries either
//! its data or an error naming what is wrong with a hint; only a bad `gitml.toml` or an unknown
//! revision fails the whole command. Every string taken from the repository is escaped by
//! [`escape`] on its way into any output.

pub mod config;
pub mod escape;
#[cfg(test)]
mod golden;
pub mod html;
pub mod markdown;
pub mod parse;
pub mod resample;
pub mod series;
pub mod source;
pub mod svg;

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use self::config::{Decl, Settings};
use self::parse::{Format, Problem, Table};
use self::series::{Fields, Matrix, Series};
use self::source::Listing;
use crate::error::Result;
use crate::workspace::Workspace;

/// What a plot is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Line,
    Scatter,
    Confusion,
    Image,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "line" => Kind::Line,
            "scatter" => Kind::Scatter,
            "confusion" => Kind::Confusion,
            "image" => Kind::Image,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Line => "line",
            Kind::Scatter => "scatter",
            Kind::Confusion => "confusion",
            Kind::Image => "image",
        }
    }
}

/// A revision to read plots at: a commit, or the working tree (`commit` is `None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Revision {
    /// What the user named (`HEAD~1`, `main`, `workspace`).
    pub rev: String,
    pub commit: Option<String>,
}

impl Revision {
    /// `rev (abc1234567)`, or just the short commit when that is what was named.
    pub fn label(&self) -> String {
        match &self.commit {
            None => self.rev.clone(),
            Some(c) => {
                let short = &c[..10.min(c.len())];
                if c.starts_with(&self.rev) || self.rev.starts_with(short) {
                    short.to_string()
                } else {
                    format!("{} ({short})", self.rev)
                }
            }
        }
    }
}

/// An image, listed and never embedded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Image {
    pub oid: String,
    pub size: u64,
}

/// One plot at one revision.
#[derive(Debug, Clone, Serialize)]
pub struct PlotRev {
    pub rev: String,
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<Series>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// The file is not at this revision (not an error: a new plot has no old side).
    pub missing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The revision's position in [`Report::revisions`] (its colour).
    #[serde(skip)]
    pub index: usize,
}

/// One plot across the revisions.
#[derive(Debug, Clone, Serialize)]
pub struct Plot {
    pub name: String,
    pub kind: Kind,
    /// The file, repo-relative.
    pub path: String,
    pub title: String,
    /// The x field; `null` when x is the record's position.
    pub x: Option<String>,
    pub y: Vec<String>,
    pub x_label: String,
    pub y_label: String,
    pub revisions: Vec<PlotRev>,
}

impl Plot {
    /// The categories on the x axis, in order of first appearance over the revisions, when x is
    /// not numeric.
    pub fn categories(&self) -> Option<Vec<std::sync::Arc<str>>> {
        let mut seen: HashMap<std::sync::Arc<str>, ()> = HashMap::new();
        let mut out = Vec::new();
        for r in &self.revisions {
            for s in r.series.iter().flatten() {
                for p in &s.points {
                    if let series::X::Label(l) = &p.0
                        && seen.insert(l.clone(), ()).is_none()
                    {
                        out.push(l.clone());
                    }
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    pub message: String,
}

/// Every plot at every revision.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub revisions: Vec<Revision>,
    pub plots: Vec<Plot>,
    pub warnings: Vec<Warning>,
}

/// A plot file that could not be shown at a revision.
#[derive(Debug, Clone)]
pub struct FileError<'a> {
    pub path: &'a str,
    pub rev: &'a str,
    pub message: &'a str,
    pub hint: Option<&'a str>,
}

impl Report {
    /// The (plot, revision) pairs that failed, for the CLI to report.
    pub fn errors(&self) -> Vec<FileError<'_>> {
        self.plots
            .iter()
            .flat_map(|p| {
                p.revisions.iter().filter_map(|r| {
                    r.error.as_deref().map(|message| FileError {
                        path: &p.path,
                        rev: &r.rev,
                        message,
                        hint: r.hint.as_deref(),
                    })
                })
            })
            .collect()
    }
}

/// The declared plots of the working tree's `gitml.toml`.
pub fn declared(ws: &Workspace) -> Result<Vec<Decl>> {
    let text =
        std::fs::read_to_string(ws.root().join(crate::config::PROJECT_FILE)).unwrap_or_default();
    config::declared(&ws.config.project, &text)
}

/// One plot file found by expanding the declarations, and how to draw it.
struct Target {
    name: String,
    path: String,
    settings: Settings,
    place: String,
    title: String,
}

/// Read every declared plot at every revision. Declarations come from the working tree's
/// `gitml.toml`; a directory's files are the union over the revisions.
pub fn build(ws: &Workspace, decls: &[Decl], revisions: &[Revision]) -> Result<Report> {
    let mut reader = crate::record::at::Reader::new(ws)?;
    let batch = &mut reader;
    let mut warnings = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut seen: HashSet<(usize, String)> = HashSet::new();
    // A file declared on its own is drawn by that declaration, not also as part of a directory.
    let files_declared: BTreeSet<&str> = decls.iter().map(|d| d.path.as_str()).collect();
    let mut claimed: HashMap<String, usize> = HashMap::new();
    let mut unknown_ext = BTreeSet::new();
    for (di, d) in decls.iter().enumerate() {
        let mut found = false;
        for r in revisions {
            let listing = match source::list_at(ws, batch, r.commit.as_deref(), &d.path) {
                Ok(l) => l,
                Err(p) => {
                    warnings.push(Warning {
                        message: format!("`{}` ({}) at {}: {}", d.path, d.place, r.rev, p.message),
                    });
                    continue;
                }
            };
            let files = match listing {
                Listing::File => vec![(d.path.clone(), false)],
                Listing::Dir(files) => files.into_iter().map(|f| (f, true)).collect(),
                Listing::Missing(_) => continue,
            };
            found = true;
            for (file, in_dir) in files {
                if in_dir {
                    if files_declared.contains(file.as_str()) {
                        continue;
                    }
                    if claimed.get(&file).is_some_and(|&other| other != di) {
                        continue;
                    }
                    if Format::of(&file).is_none() && !parse::is_image(&file) {
                        unknown_ext.insert(file);
                        continue;
                    }
                    claimed.insert(file.clone(), di);
                }
                if !seen.insert((di, file.clone())) {
                    continue;
                }
                let rel = file
                    .strip_prefix(&d.path)
                    .map(|r| r.trim_start_matches('/'))
                    .unwrap_or(&file);
                let (name, title) = if in_dir {
                    let title = match &d.settings.title {
                        Some(t) => format!("{t}: {rel}"),
                        None => file.clone(),
                    };
                    (file.clone(), title)
                } else {
                    let title = d.settings.title.clone().unwrap_or_else(|| d.name.clone());
                    (d.name.clone(), title)
                };
                targets.push(Target {
                    name,
                    path: file,
                    settings: d.settings.clone(),
                    place: d.place.clone(),
                    title,
                });
            }
        }
        if !found {
            // The note (inside a tracked output, say) from the newest revision, if any.
            let note = revisions.last().and_then(|r| {
                match source::list_at(ws, batch, r.commit.as_deref(), &d.path) {
                    Ok(Listing::Missing(n)) => n,
                    _ => None,
                }
            });
            let names: Vec<&str> = revisions.iter().map(|r| r.rev.as_str()).collect();
            warnings.push(Warning {
                message: format!(
                    "`{}` ({}) is not at {}{}",
                    d.path,
                    d.place,
                    names.join(", "),
                    note.map(|n| format!(": {n}")).unwrap_or_default()
                ),
            });
        }
    }
    for f in unknown_ext {
        warnings.push(Warning {
            message: format!(
                "`{f}` is not a plot file (.json, .csv, .tsv, .yaml, .yml, or an image: .png, .jpg, .jpeg, .svg, .gif); skipped"
            ),
        });
    }
    let mut plots = Vec::new();
    for t in &targets {
        plots.push(plot(ws, batch, t, revisions, &mut warnings)?);
    }
    let mut seen = HashSet::new();
    for w in batch.warnings.drain(..) {
        if seen.insert(w.message.clone()) {
            warnings.push(Warning { message: w.message });
        }
    }
    Ok(Report {
        revisions: revisions.to_vec(),
        plots,
        warnings,
    })
}

/// What was read at one revision.
enum Read {
    Missing(Option<String>),
    Failed(Problem),
    Image(Image),
    Table(Table),
}

fn plot(
    ws: &Workspace,
    batch: &mut crate::record::at::Reader<'_>,
    t: &Target,
    revisions: &[Revision],
    warnings: &mut Vec<Warning>,
) -> Result<Plot> {
    let image = t.settings.kind == Some(Kind::Image)
        || (t.settings.kind.is_none() && parse::is_image(&t.path));
    let reads: Vec<Read> = revisions
        .iter()
        .map(|r| {
            let bytes = match source::read_at(ws, batch, r.commit.as_deref(), &t.path) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    let note = match source::list_at(ws, batch, r.commit.as_deref(), &t.path) {
                        Ok(Listing::Missing(n)) => n,
                        _ => None,
                    };
                    return Read::Missing(note);
                }
                Err(p) => return Read::Failed(p),
            };
            if image {
                return Read::Image(Image {
                    oid: crate::Oid::of(&bytes).to_string(),
                    size: bytes.len() as u64,
                });
            }
            let Some(format) = Format::of(&t.path) else {
                return Read::Failed(
                    Problem::new("is not a plot file: the name does not end in .json, .csv, .tsv, .yaml or .yml")
                        .hint(format!("rename it, or set `kind = \"image\"` in {} for an image", t.place)),
                );
            };
            match parse::parse(&bytes, format) {
                Ok(table) => Read::Table(table),
                Err(p) => Read::Failed(p),
            }
        })
        .collect();
    // Fields are inferred from the newest revision that parses, and used for all of them, so the
    // overlaid lines are the same fields.
    let mut fields: Option<Result<Fields, Problem>> = None;
    for read in reads.iter().rev() {
        if let Read::Table(table) = read {
            let f = series::infer(table, &t.settings, &t.path, &t.place);
            let ok = f.is_ok();
            fields = Some(f);
            if ok {
                break;
            }
        }
    }
    let kind = if image {
        Kind::Image
    } else {
        match &fields {
            Some(Ok(f)) => f.kind,
            _ => t.settings.kind.unwrap_or(Kind::Line),
        }
    };
    let mut out_revs = Vec::new();
    for (index, (r, read)) in revisions.iter().zip(reads).enumerate() {
        let mut pr = PlotRev {
            rev: r.rev.clone(),
            commit: r.commit.clone(),
            series: None,
            matrix: None,
            image: None,
            missing: false,
            note: None,
            error: None,
            hint: None,
            index,
        };
        let fail = |pr: &mut PlotRev, p: Problem| {
            pr.error = Some(p.message);
            pr.hint = p.hint;
        };
        match read {
            Read::Missing(note) => {
                pr.missing = true;
                pr.note = note;
            }
            Read::Failed(p) => fail(&mut pr, p),
            Read::Image(img) => pr.image = Some(img),
            Read::Table(table) => {
                let f = match &fields {
                    Some(Ok(f)) => Ok(f.clone()),
                    Some(Err(p)) => Err(p.clone()),
                    None => series::infer(&table, &t.settings, &t.path, &t.place),
                };
                let result = f.and_then(|f| match f.kind {
                    Kind::Confusion => series::matrix(&table, &f, &t.place).map(|m| {
                        pr.matrix = Some(m);
                    }),
                    _ => series::series(&table, &f, &t.place).map(|s| {
                        pr.series = Some(s);
                    }),
                });
                if let Err(p) = result {
                    fail(&mut pr, p);
                }
            }
        }
        for s in pr.series.iter().flatten() {
            if s.skipped_non_finite > 0 {
                warnings.push(Warning {
                    message: format!(
                        "`{}` at {}: {} of `{}` with NaN or infinity skipped",
                        t.path,
                        r.rev,
                        crate::text::plural(s.skipped_non_finite as u64, "point", "points"),
                        s.field
                    ),
                });
            }
        }
        out_revs.push(pr);
    }
    let (x, y) = match &fields {
        Some(Ok(f)) => (f.x.clone(), f.y.clone()),
        _ => (t.settings.x.clone(), t.settings.y.clone()),
    };
    let x_label = t
        .settings
        .x_label
        .clone()
        .unwrap_or_else(|| match (&x, kind) {
            (Some(x), Kind::Confusion) => format!("{x} (actual)"),
            (Some(x), _) => x.clone(),
            (None, _) => "record".into(),
        });
    let y_label = t.settings.y_label.clone().unwrap_or_else(|| match kind {
        Kind::Confusion => format!("{} (predicted)", y.join(", ")),
        _ => y.join(", "),
    });
    Ok(Plot {
        name: t.name.clone(),
        kind,
        path: t.path.clone(),
        title: t.title.clone(),
        x,
        y,
        x_label,
        y_label,
        revisions: out_revs,
    })
}
