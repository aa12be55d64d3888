//! Pointer files: `<path>.gitml`, the small committed TOML file that stands for a tracked file or
//! directory.
//!
//! A pointer holds only content facts (oid, size, file count, executable bit), nothing about the
//! machine, so the same data added on two machines gives byte-identical pointers. Pointers are
//! untrusted input (they arrive with `git pull`): parsing is strict and every error names the file
//! and line.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::oid::Oid;

pub const SUFFIX: &str = ".gitml";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub kind: Kind,
    pub oid: Oid,
    /// Bytes of the file, or of all files in the directory.
    pub size: u64,
    /// Number of files in a directory (0 for a file).
    pub files: u64,
    /// Executable bit of a single file.
    pub executable: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: toml::Spanned<u32>,
    #[serde(rename = "type")]
    kind: Kind,
    oid: toml::Spanned<String>,
    size: u64,
    files: Option<u64>,
    #[serde(default)]
    executable: bool,
}

impl Pointer {
    pub fn to_toml(&self) -> String {
        let mut s = String::from(
            "# git-ml pointer: commit this file. The data lives in the git-ml cache and remotes;\n\
             # `git ml checkout` restores it, `git ml status` compares it.\n",
        );
        s.push_str(&format!("version = {VERSION}\n"));
        s.push_str(match self.kind {
            Kind::File => "type = \"file\"\n",
            Kind::Dir => "type = \"dir\"\n",
        });
        s.push_str(&format!("oid = \"{}\"\n", self.oid));
        s.push_str(&format!("size = {}\n", self.size));
        if self.kind == Kind::Dir {
            s.push_str(&format!("files = {}\n", self.files));
        }
        if self.executable {
            s.push_str("executable = true\n");
        }
        s
    }

    /// Parse a pointer; `file` is the repo-relative pointer path used in errors.
    pub fn parse(text: &str, file: &str) -> Result<Pointer> {
        let err = |offset: Option<usize>, message: String| Error::Pointer {
            file: file.to_string(),
            line: offset.map_or(1, |o| line_of(text, o)),
            message,
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            err(e.span().map(|s| s.start), msg)
        })?;
        if *raw.version.get_ref() != VERSION {
            return Err(err(
                Some(raw.version.span().start),
                format!(
                    "pointer version {} is not supported (this git-ml reads version {VERSION}); upgrade git-ml",
                    raw.version.get_ref()
                ),
            ));
        }
        let oid = raw
            .oid
            .get_ref()
            .parse::<Oid>()
            .map_err(|e| err(Some(raw.oid.span().start), format!("invalid oid: {e}")))?;
        match (raw.kind, raw.files) {
            (Kind::Dir, None) => return Err(err(None, "a `dir` pointer needs `files`".into())),
            (Kind::File, Some(_)) => {
                return Err(err(None, "a `file` pointer has no `files`".into()));
            }
            _ => {}
        }
        Ok(Pointer {
            kind: raw.kind,
            oid,
            size: raw.size,
            files: raw.files.unwrap_or(0),
            executable: raw.executable,
        })
    }
}

/// The error for a pointer whose `key` (`size`, `files`) is not what its content has.
pub fn size_mismatch(file: &str, text: &str, key: &str, said: u64, actual: u64) -> Error {
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with(key))
        .map_or(1, |i| i + 1);
    let unit = if key == "files" { "files" } else { "bytes" };
    Error::Pointer {
        file: file.to_string(),
        line,
        message: format!("`{key} = {said}`, but its content has {actual} {unit}"),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `data/train.csv` -> `data/train.csv.gitml`
pub fn pointer_path(data_path: &str) -> String {
    format!("{data_path}{SUFFIX}")
}

/// `data/train.csv.gitml` -> `data/train.csv`
pub fn data_path(pointer_path: &str) -> Option<&str> {
    pointer_path
        .strip_suffix(SUFFIX)
        .filter(|p| !p.is_empty() && !p.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for p in [
            Pointer {
                kind: Kind::File,
                oid: Oid::of(b"x"),
                size: 1,
                files: 0,
                executable: true,
            },
            Pointer {
                kind: Kind::Dir,
                oid: Oid::of(b"y"),
                size: 10,
                files: 3,
                executable: false,
            },
        ] {
            assert_eq!(Pointer::parse(&p.to_toml(), "p.gitml").unwrap(), p);
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "version = 1\ntype = \"file\"\noid = \"blake3:zz\"\nsize = 1\n";
        let e = Pointer::parse(text, "d/x.gitml").unwrap_err().to_string();
        assert!(e.starts_with("d/x.gitml:3: invalid oid"), "{e}");
        let e = Pointer::parse("version = 1\ntype = \"file\"\nsize = [\n", "x.gitml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.gitml:3:"), "{e}");
        let e = Pointer::parse("version = 1\nbogus = 2\n", "x.gitml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
