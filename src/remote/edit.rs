//! `git ml remote add|remove|default`: edits `gitml.toml` (or the machine-local config) with
//! `toml_edit`, so the user's comments and layout survive.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, value};

use crate::error::{Error, Result};
use crate::fsutil;

/// Settings for a new remote; `None` leaves a key out.
#[derive(Debug, Default, Clone)]
pub struct NewRemote {
    pub name: String,
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub allow_http: Option<bool>,
    pub profile: Option<String>,
    pub account: Option<String>,
    pub anonymous: bool,
}

fn load(file: &Path) -> Result<DocumentMut> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    text.parse::<DocumentMut>().map_err(|e| Error::Config {
        file: file.display().to_string(),
        message: e.to_string().trim().to_string(),
    })
}

fn save(file: &Path, doc: &DocumentMut) -> Result<()> {
    write_text(file, &doc.to_string())
}

fn write_text(file: &Path, text: &str) -> Result<()> {
    if let Some(dir) = file.parent() {
        fs_err::create_dir_all(dir)?;
    }
    let mut text = text.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    fsutil::atomic_write(file, text.as_bytes(), 0o644)?;
    Ok(())
}

/// Add a new table at the end of the file as text: a table inserted into the parsed document
/// would land between an empty table and the comments below it (toml_edit keeps those as the
/// document's trailing text), moving the user's comments under the new table.
fn append_table(file: &Path, header: &str, body: &Table) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    let mut snippet = DocumentMut::new();
    for (k, v) in body.iter() {
        snippet.insert(k, v.clone());
    }
    let mut out = text.trim_end_matches('\n').to_string();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&format!("[{header}]\n{snippet}"));
    write_text(file, &out)
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::RemoteConfig {
            remote: name.into(),
            message: "a remote name uses letters, digits, `-`, `_` and `.` only".into(),
        })
    }
}

/// Add `[remotes.NAME]` to `file`; refuses to replace an existing one.
pub fn add(file: &Path, r: &NewRemote) -> Result<()> {
    check_name(&r.name)?;
    let doc = load(file)?;
    let exists = match doc.get("remotes") {
        None => false,
        Some(Item::Table(t)) => t.contains_key(&r.name),
        Some(_) => {
            return Err(Error::Config {
                file: file.display().to_string(),
                message: "`remotes` is not a table".into(),
            });
        }
    };
    if exists {
        return Err(Error::RemoteConfig {
            remote: r.name.clone(),
            message: format!(
                "already exists in `{}`; remove it first with `git ml remote remove {}`",
                file.display(),
                r.name
            ),
        });
    }
    let mut t = Table::new();
    t.insert("url", value(&r.url));
    for (k, v) in [
        ("endpoint", &r.endpoint),
        ("region", &r.region),
        ("profile", &r.profile),
        ("account", &r.account),
    ] {
        if let Some(v) = v {
            t.insert(k, value(v));
        }
    }
    for (k, v) in [("path_style", r.path_style), ("allow_http", r.allow_http)] {
        if let Some(v) = v {
            t.insert(k, value(v));
        }
    }
    if r.anonymous {
        t.insert("anonymous", value(true));
    }
    append_table(file, &format!("remotes.{}", r.name), &t)
}

/// Remove `[remotes.NAME]` (and `core.remote` if it names it); false if it was not there.
pub fn remove(file: &Path, name: &str) -> Result<bool> {
    let mut doc = load(file)?;
    let removed = doc
        .get_mut("remotes")
        .and_then(|r| r.as_table_mut())
        .and_then(|t| t.remove(name))
        .is_some();
    if let Some(core) = doc.get_mut("core").and_then(|c| c.as_table_mut())
        && core.get("remote").and_then(|v| v.as_str()) == Some(name)
    {
        core.remove("remote");
    }
    if removed {
        save(file, &doc)?;
    }
    Ok(removed)
}

/// Set `core.remote = NAME` in `file`.
pub fn set_default(file: &Path, name: &str) -> Result<()> {
    check_name(name)?;
    let mut doc = load(file)?;
    match doc.get_mut("core") {
        None => {
            let mut t = Table::new();
            t.insert("remote", value(name));
            append_table(file, "core", &t)
        }
        Some(Item::Table(core)) => {
            core.insert("remote", value(name));
            save(file, &doc)
        }
        Some(_) => Err(Error::Config {
            file: file.display().to_string(),
            message: "`core` is not a table".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitml.toml");
        std::fs::write(
            &file,
            "# keep me\n[cache]\n# and me, with [cache]\n# dir = \"/x\"\n\n[gc]\ngrace = \"1d\"\n# gc's own note",
        )
        .unwrap();
        add(
            &file,
            &NewRemote {
                name: "store".into(),
                url: "s3://b/p".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                ..Default::default()
            },
        )
        .unwrap();
        set_default(&file, "store").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.starts_with("# keep me\n[cache]\n# and me, with [cache]\n# dir = \"/x\"\n\n[gc]\ngrace = \"1d\"\n# gc's own note\n"),
            "comments moved: {text}"
        );
        assert!(text.ends_with('\n'), "{text:?}");
        let parsed: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(parsed["remotes"]["store"]["url"].as_str(), Some("s3://b/p"));
        assert_eq!(parsed["core"]["remote"].as_str(), Some("store"));
        assert!(
            add(
                &file,
                &NewRemote {
                    name: "store".into(),
                    url: "x".into(),
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert!(remove(&file, "store").unwrap());
        let parsed: toml::Table = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert!(parsed.get("core").and_then(|c| c.get("remote")).is_none());
        assert!(!remove(&file, "store").unwrap());
    }
}
