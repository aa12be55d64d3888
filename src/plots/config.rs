//! Which plots a project declares: `[plots.NAME]` sections of `gitml.toml`, and the `plots`
//! paths of pipeline stages.
//!
//! The invariant: every declared path is checked with [`check_relative`] before anything is read,
//! and every error names `gitml.toml:LINE [plots.NAME]` (or the stage); an unknown key is an
//! error listing the known ones, so a typo never silently changes a plot.

use super::Kind;
use crate::config::PROJECT_FILE;
use crate::data::path::check_relative;
use crate::error::{Error, Result};

const KEYS: &[&str] = &["path", "x", "y", "title", "x_label", "y_label", "kind"];

/// How one plot is drawn; `None` means "infer it from the file".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub kind: Option<Kind>,
    pub x: Option<String>,
    pub y: Vec<String>,
    pub title: Option<String>,
    pub x_label: Option<String>,
    pub y_label: Option<String>,
}

/// Where a declaration came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// `[plots.NAME]`
    Entry,
    /// A path in `[stages.NAME] plots`.
    Stage(String),
}

/// One declared plot path: a file, or a directory whose every file is a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    /// The `[plots.NAME]` id, or for a stage's path the path itself.
    pub name: String,
    pub path: String,
    pub settings: Settings,
    pub origin: Origin,
    /// `gitml.toml:LINE [plots.NAME]`, for messages.
    pub place: String,
}

/// The declarations in `project` (the parsed `gitml.toml`, whose text is `text`, for line
/// numbers): `[plots.*]` first, by name, then each stage's paths not already declared there.
pub fn declared(project: &toml::Table, text: &str) -> Result<Vec<Decl>> {
    let mut out = entries(project, text)?;
    for stage in crate::pipeline::stages(project, text)? {
        for path in &stage.plots {
            let place = format!("{} (`plots`)", stage.origin());
            check_path(path, &place)?;
            if out.iter().any(|d| &d.path == path) {
                continue;
            }
            out.push(Decl {
                name: path.clone(),
                path: path.clone(),
                settings: Settings::default(),
                origin: Origin::Stage(stage.name.clone()),
                place,
            });
        }
    }
    Ok(out)
}

fn entries(project: &toml::Table, text: &str) -> Result<Vec<Decl>> {
    let Some(section) = project.get("plots") else {
        return Ok(Vec::new());
    };
    let table = section.as_table().ok_or_else(|| Error::Config {
        file: PROJECT_FILE.into(),
        message: "`plots` must be a table of `[plots.NAME]` sections".into(),
    })?;
    let mut out = Vec::new();
    for (name, value) in table {
        let line = text
            .lines()
            .position(|l| {
                let l = l.trim();
                l == format!("[plots.{name}]") || l == format!("[plots.\"{name}\"]")
            })
            .map_or(0, |i| i + 1);
        let place = format!("{PROJECT_FILE}:{line} [plots.{name}]");
        let bad = |message: String| Error::Config {
            file: format!("{PROJECT_FILE}:{line}"),
            message: format!("[plots.{name}] {message}"),
        };
        let t = value
            .as_table()
            .ok_or_else(|| bad("must be a table with at least `path = \"...\"`".into()))?;
        for key in t.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(bad(format!(
                    "unknown key `{key}`; known keys: {}",
                    KEYS.join(", ")
                )));
            }
        }
        let string = |key: &str| -> Result<Option<String>> {
            match t.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("`{key}` must be a non-empty string"))),
            }
        };
        let path = string("path")?
            .ok_or_else(|| bad("needs `path = \"...\"`, a plot file or directory".into()))?;
        let path = path.trim_end_matches('/').to_string();
        check_path(&path, &place)?;
        let y = match t.get("y") {
            None => Vec::new(),
            Some(toml::Value::String(s)) if !s.is_empty() => vec![s.clone()],
            Some(toml::Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) if !s.is_empty() => Ok(s.clone()),
                    _ => Err(bad("`y` entries must be non-empty strings".into())),
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(bad(
                    "`y` must be a field name or a list of field names".into()
                ));
            }
        };
        let kind = match string("kind")? {
            None => None,
            Some(k) => Some(Kind::parse(&k).ok_or_else(|| {
                bad(format!(
                    "`kind = \"{k}\"` is not one of line, scatter, confusion, image"
                ))
            })?),
        };
        if kind == Some(Kind::Confusion) && y.len() > 1 {
            return Err(bad(
                "a confusion matrix has one `y` (the predicted-class field)".into(),
            ));
        }
        out.push(Decl {
            name: name.clone(),
            path,
            settings: Settings {
                kind,
                x: string("x")?,
                y,
                title: string("title")?,
                x_label: string("x_label")?,
                y_label: string("y_label")?,
            },
            origin: Origin::Entry,
            place,
        });
    }
    Ok(out)
}

/// [`check_relative`], as a configuration error (which comes with a hint).
fn check_path(path: &str, place: &str) -> Result<()> {
    check_relative(path, &|| place.to_string()).map_err(|e| match e {
        Error::UnsafePath { reason, .. } => Error::Config {
            file: place.to_string(),
            message: format!(
                "invalid path `{path}`: {reason}; plot paths are relative to the repository root"
            ),
        },
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls(text: &str) -> Result<Vec<Decl>> {
        let project: toml::Table = toml::from_str(text).unwrap();
        declared(&project, text)
    }

    #[test]
    fn entries_and_stage_paths() {
        let d = decls(
            r#"
[plots.roc]
path = "eval/plots/roc.json"
x = "fpr"
y = "tpr"
title = "ROC curve"

[plots.loss]
path = "train/"
y = ["train_loss", "val_loss"]

[stages.evaluate]
cmd = "python eval.py"
plots = ["eval/plots", "train"]
"#,
        )
        .unwrap();
        let names: Vec<&str> = d.iter().map(|d| d.name.as_str()).collect();
        // `train` is already `[plots.loss]`; the stage's copy is dropped.
        assert_eq!(names, ["loss", "roc", "eval/plots"]);
        assert_eq!(d[0].path, "train");
        assert_eq!(d[0].settings.y, ["train_loss", "val_loss"]);
        assert_eq!(d[1].settings.x.as_deref(), Some("fpr"));
        assert_eq!(d[1].place, "gitml.toml:2 [plots.roc]");
        assert_eq!(d[2].origin, Origin::Stage("evaluate".into()));
    }

    #[test]
    fn bad_entries_name_the_section() {
        for (text, needle) in [
            (
                "[plots.a]\npath = \"x.json\"\ncolour = \"red\"\n",
                "unknown key `colour`; known keys: path, x, y",
            ),
            ("[plots.a]\nx = \"step\"\n", "needs `path"),
            ("[plots.a]\npath = \"../x.json\"\n", "`..`"),
            ("[plots.a]\npath = \"/etc/passwd\"\n", "absolute"),
            ("[plots.a]\npath = \".git/config\"\n", "`.git`"),
            (
                "[plots.a]\npath = \"x.json\"\nkind = \"pie\"\n",
                "not one of line",
            ),
            ("[plots.a]\npath = \"x.json\"\ny = 3\n", "`y` must be"),
            ("[plots.a]\npath = 5\n", "`path` must be"),
            ("plots = 3\n", "`plots` must be a table"),
            (
                "[stages.s]\ncmd = \"true\"\nplots = [\"../up\"]\n",
                "[stages.s]",
            ),
        ] {
            let e = decls(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            if !text.starts_with("plots =") && !text.contains("stages") {
                assert!(e.contains("[plots.a]"), "{text:?}: {e}");
            }
        }
    }
}
