//! `.dvc/config` (and `config.local`): DVC's INI-style settings (`[core]`, `['remote "NAME"']`,
//! `[cache]`), as `configobj` reads them.

use std::collections::BTreeMap;

use super::yaml::err;
use crate::error::Result;

/// One section's keys, with the line each was set on.
pub type Section = BTreeMap<String, (String, usize)>;

#[derive(Debug, Clone, Default)]
pub struct DvcConfig {
    pub core: Section,
    pub cache: Section,
    /// Remote name -> its keys (`url`, `endpointurl`, `region`, ...), and the section's line.
    pub remotes: BTreeMap<String, (Section, usize)>,
    /// Other sections (`machine`, `plots`, `feature`, ...), by header.
    pub other: BTreeMap<String, usize>,
}

impl DvcConfig {
    pub fn remote_key(&self, name: &str, key: &str) -> Option<&str> {
        self.remotes
            .get(name)
            .and_then(|(s, _)| s.get(key))
            .map(|(v, _)| v.as_str())
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    // An unquoted value ends at an inline comment.
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

/// Parse a DVC config file; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<DvcConfig> {
    if text.len() > super::yaml::MAX_TEXT {
        return Err(err(file, 0, "larger than 64 MiB: not a DVC config"));
    }
    let mut cfg = DvcConfig::default();
    enum At {
        None,
        Core,
        Cache,
        Remote(String),
        Other,
    }
    let mut at = At::None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') {
            let Some(inner) = l.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
                return Err(err(file, line, format!("`{l}` is not a section header")));
            };
            let header = unquote(inner.trim());
            let header = header.trim();
            at = if header == "core" {
                At::Core
            } else if header == "cache" {
                At::Cache
            } else if let Some(rest) = header.strip_prefix("remote ") {
                let name = unquote(rest);
                if name.is_empty() {
                    return Err(err(file, line, "a remote section without a name"));
                }
                cfg.remotes
                    .entry(name.clone())
                    .or_insert((Section::new(), line));
                At::Remote(name)
            } else {
                cfg.other.insert(header.to_string(), line);
                At::Other
            };
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            return Err(err(file, line, format!("`{l}` is not `key = value`")));
        };
        let (k, v) = (k.trim().to_string(), unquote(v));
        match &at {
            At::None => {
                return Err(err(file, line, format!("`{k}` is outside any section")));
            }
            At::Core => {
                cfg.core.insert(k, (v, line));
            }
            At::Cache => {
                cfg.cache.insert(k, (v, line));
            }
            At::Remote(name) => {
                if let Some((s, _)) = cfg.remotes.get_mut(name) {
                    s.insert(k, (v, line));
                }
            }
            At::Other => {}
        }
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_remotes() {
        let text = "[core]\n    remote = store\n    autostage = true\n['remote \"store\"']\n    url = s3://bucket/path\n    endpointurl = http://127.0.0.1:9000\n['remote \"nas\"']\n    url = ../../nas # the NAS\n[cache]\n    type = \"hardlink,symlink\"\n";
        let c = parse(text, ".dvc/config").unwrap();
        assert_eq!(c.core["remote"].0, "store");
        assert_eq!(c.remote_key("store", "url"), Some("s3://bucket/path"));
        assert_eq!(c.remotes["store"].1, 4);
        assert_eq!(c.remote_key("nas", "url"), Some("../../nas"));
        assert_eq!(c.cache["type"].0, "hardlink,symlink");
        let e = parse("url = x\n", ".dvc/config").unwrap_err().to_string();
        assert!(e.starts_with(".dvc/config:1:"), "{e}");
        assert!(parse("[core\n", "c").is_err());
    }
}
