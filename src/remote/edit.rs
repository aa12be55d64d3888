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
    if let Some(dir) = file.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fsutil::atomic_write(file, doc.to_string().as_bytes(), 0o644)?;
    Ok(())
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
    let mut doc = load(file)?;
    let remotes = doc
        .entry("remotes")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| Error::Config {
            file: file.display().to_string(),
            message: "`remotes` is not a table".into(),
        })?;
    if remotes.contains_key(&r.name) {
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
    remotes.insert(&r.name, Item::Table(t));
    save(file, &doc)
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
    let core = doc
        .entry("core")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_mut()
        .ok_or_else(|| Error::Config {
            file: file.display().to_string(),
            message: "`core` is not a table".into(),
        })?;
    core.insert("remote", value(name));
    save(file, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitml.toml");
        std::fs::write(&file, "# keep me\n[cache]\n# and me\nlink = [\"copy\"]\n").unwrap();
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
            text.contains("# keep me") && text.contains("# and me"),
            "{text}"
        );
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
