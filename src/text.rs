//! Text that crosses a trust boundary: names from a repository (file names, metric names,
//! branch names) on their way into a terminal, a shell command in a hint, or Markdown that GitHub
//! renders.
//!
//! The invariant: what these functions return can be printed, pasted or rendered without the
//! name acting on its reader: no control sequence reaches the terminal, no hint runs something
//! else than it says, no `@mention` pings anyone and no name breaks out of its table cell.

/// `1.5 KiB`, `300 B`: a size for people.
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

/// `1 run`, `2 runs`: a count with the word in the right number.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `s` with control characters (and the invisible characters that reorder text) written as
/// escapes, as git quotes odd file names: `\n`, `\t`, `\e`, `\x07`, `\u{202e}`. Everything else is
/// unchanged, so ordinary names print as themselves.
pub fn escape_control(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    let u = c as u32;
    u < 0x20
        || u == 0x7f
        || (0x80..0xa0).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2066..=0x2069).contains(&u)
}

/// Quote `s` for a POSIX shell, only when it needs it: `data/train.csv` stays as is,
/// `my data` becomes `'my data'`.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@%+=:,-".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A path as a shell argument that no command can take for an option: quoted as needed, and
/// `./`-prefixed when it starts with `-`.
pub fn shell_path(s: &str) -> String {
    if s.starts_with('-') {
        shell_quote(&format!("./{s}"))
    } else {
        shell_quote(s)
    }
}

/// GitHub turns `@name` and `@org/team` into a mention that notifies. An entity for a zero-width
/// space between the `@` and the name keeps the text readable and the mention dead; it is
/// inserted wherever an `@` is followed by a character a login may start with.
pub fn defuse_mentions(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '@' && chars.peek().is_some_and(|n| n.is_ascii_alphanumeric()) {
            out.push_str("&#8203;");
        }
    }
    out
}

/// Text for a GitHub-flavoured Markdown table cell or inline position: characters with Markdown
/// meaning backslash-escaped, HTML special characters as entities, line breaks as spaces,
/// mentions defused.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in escape_control(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("\\|"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    defuse_mentions(&out)
}

/// Text inside a double-quoted Mermaid string or label: nothing that could end the string, the
/// code block or the line, and no mention.
pub fn mermaid(s: &str) -> String {
    let cleaned: String = escape_control(s)
        .chars()
        .map(|c| match c {
            '"' | '`' | '[' | ']' | '<' | '>' | '&' | ';' | '#' => ' ',
            c => c,
        })
        .collect();
    cleaned.replace('@', "@ ")
}

/// A rendered table without the padding comfy-table leaves at the ends of its lines.
pub fn table(t: &comfy_table::Table) -> String {
    t.to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A CSV field from the repository (a metric name, a branch): quoted when it holds a comma,
/// quote or line break, and, when it starts like a spreadsheet formula (`=`, `+`, `-`, `@`, tab,
/// carriage return), prefixed with `'`, so a cloned repository's metric name cannot run a formula
/// in the spreadsheet that opens the export (OWASP's CSV injection advice).
pub fn csv(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain/name.csv"), "plain/name.csv");
        assert_eq!(escape_control("a\nb"), "a\\nb");
        assert_eq!(escape_control("x\u{1b}]0;t\u{7}"), "x\\e]0;t\\x07");
        assert_eq!(escape_control("evil\u{202e}txt"), "evil\\u{202e}txt");
    }

    #[test]
    fn csv_fields_cannot_become_formulas_or_break_rows() {
        assert_eq!(csv("acc"), "acc");
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv("-1+1"), "'-1+1");
        assert_eq!(csv("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("data/train.csv"), "data/train.csv");
        assert_eq!(shell_quote("my data"), "'my data'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
        assert_eq!(shell_path("-rf"), "./-rf");
        assert_eq!(shell_path("-r f"), "'./-r f'");
    }

    #[test]
    fn mentions_are_defused() {
        assert_eq!(defuse_mentions("@octocat"), "@&#8203;octocat");
        assert_eq!(
            defuse_mentions("x@team/admins and a@ b"),
            "x@&#8203;team/admins and a@ b"
        );
        let m = markdown("| @octocat `x` <b>\n");
        assert!(!m.contains("@o"), "{m}");
        assert!(!m.contains("<b>") && !m.contains('\n'), "{m}");
        assert!(
            m.match_indices('|').all(|(i, _)| m[..i].ends_with('\\')),
            "an unescaped pipe: {m}"
        );
        let q = mermaid("a\"b`\n```\n@octocat");
        assert!(!q.contains('"') && !q.contains('`') && !q.contains('\n') && !q.contains("@o"));
    }
}
