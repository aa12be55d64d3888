//! Keeping tracked data out of git: one anchored line per tracked path in the `.gitignore` of
//! its parent directory, as a user would write it.

use std::path::Path;

use crate::error::Result;
use crate::fsutil;

/// Escape a file name so `.gitignore` matches exactly that name.
fn pattern(name: &str) -> String {
    let mut out = String::from("/");
    for (i, c) in name.chars().enumerate() {
        if matches!(c, '*' | '?' | '[' | '\\') || (i == 0 && matches!(c, '#' | '!')) {
            out.push('\\');
        }
        out.push(c);
    }
    if out.ends_with(' ') {
        let trimmed = out.trim_end_matches(' ').len();
        let spaces = out.len() - trimmed;
        out.truncate(trimmed);
        out.push_str(&"\\ ".repeat(spaces));
    }
    out
}

fn split(root: &Path, rel: &str) -> (std::path::PathBuf, String) {
    match rel.rsplit_once('/') {
        Some((dir, name)) => (root.join(dir).join(".gitignore"), pattern(name)),
        None => (root.join(".gitignore"), pattern(rel)),
    }
}

/// Make sure `rel` is ignored by the `.gitignore` next to it. Returns the file edited, if any.
pub fn ensure(root: &Path, rel: &str) -> Result<Option<String>> {
    let (file, line) = split(root, rel);
    if !ensure_line(&file, &line)? {
        return Ok(None);
    }
    Ok(Some(
        file.strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string(),
    ))
}

/// Make sure `file` contains `line` verbatim. Returns whether it was added.
pub fn ensure_line(file: &Path, line: &str) -> Result<bool> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(_) => fs_err::read_to_string(file)?,
    };
    if text.lines().any(|l| l.trim_end_matches('\r') == line) {
        return Ok(false);
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(line);
    new.push('\n');
    fsutil::atomic_write(file, new.as_bytes(), 0o644)?;
    Ok(true)
}

/// Remove the line `ensure` added for `rel`, if present.
pub fn remove(root: &Path, rel: &str) -> Result<()> {
    let (file, line) = split(root, rel);
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(());
    };
    if !text.lines().any(|l| l.trim_end_matches('\r') == line) {
        return Ok(());
    }
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_end_matches('\r') != line)
        .collect();
    let mut new = kept.join("\n");
    if !new.is_empty() {
        new.push('\n');
    }
    fsutil::atomic_write(&file, new.as_bytes(), 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pattern;

    #[test]
    fn escapes_glob_characters() {
        assert_eq!(pattern("data"), "/data");
        assert_eq!(pattern("a*b?[c]"), "/a\\*b\\?\\[c]");
        assert_eq!(pattern("#x"), "/\\#x");
        assert_eq!(pattern("x "), "/x\\ ");
    }
}
