//! Escaping of repository strings (plot names, titles, fields, labels, paths, revision names) for
//! the three places they land: HTML, GitHub Markdown (table cells and text) and Mermaid quoted
//! strings.
//!
//! The invariant: every string that came from the repository passes through exactly one of these
//! functions before it is written into output; the renderers never interpolate raw text. A plot
//! named `</svg><script>` or `@org/team` is shown as text and notifies no one.

/// Escape for HTML text and attribute values (double- or single-quoted).
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are invalid in XML (inline SVG); show them as a replacement.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Escape for a GitHub-flavoured Markdown table cell or inline text: characters that would end
/// the cell, open a code span, emphasis, a link, a heading or HTML are backslash-escaped (or, for
/// `<`, `>` and `&`, written as entities, so `&lt;` in a name stays literal); `$` is escaped so
/// GitHub does not start maths; line breaks become spaces; an `@` is followed by a zero-width space entity so `@team` mentions no one.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '\\' | '|' | '`' | '*' | '_' | '[' | ']' | '#' | '~' | '!' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '@' => out.push_str("@&#8203;"),
            c if is_line_break(c) => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Mermaid quoted string (`title "..."`, axis titles, category labels): a `"` would
/// end the string, a backtick the code fence, a newline the statement; `#`/`;` start Mermaid
/// entity codes, brackets and braces end lists or start directives, `<`/`>`/`&` could become
/// markup. All are replaced by a space; the result is at most `max` characters.
pub fn mermaid(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| match c {
            '"' | '`' | '\\' | '[' | ']' | '{' | '}' | '<' | '>' | '&' | '#' | ';' | '%' => ' ',
            c if is_line_break(c) || c.is_control() => ' ',
            c => c,
        })
        .take(max)
        .collect();
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Strings rich in the characters that matter, mixed with arbitrary ones.
    fn hostile() -> impl Strategy<Value = String> {
        let special = prop_oneof![
            Just('|'),
            Just('`'),
            Just('@'),
            Just('\\'),
            Just('\n'),
            Just('\r'),
            Just('\u{2028}'),
            Just('"'),
            Just('<'),
            Just('&'),
            Just('#'),
            Just('*'),
            Just('a'),
            Just(' '),
            any::<char>(),
        ];
        prop::collection::vec(special, 0..40).prop_map(|v| v.into_iter().collect())
    }

    /// Whether the character at byte `i` is preceded by an odd number of backslashes.
    fn escaped_at(s: &str, i: usize) -> bool {
        s[..i].bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
    }

    proptest! {
        #[test]
        fn markdown_never_leaks(s in hostile()) {
            let out = markdown(&s);
            for (i, c) in out.char_indices() {
                match c {
                    '|' | '`' => prop_assert!(escaped_at(&out, i), "unescaped {c:?} in {out:?}"),
                    '@' => prop_assert!(
                        out[i + 1..].starts_with("&#8203;"),
                        "bare @ in {out:?}"
                    ),
                    '<' | '>' => prop_assert!(false, "raw {c:?} in {out:?}"),
                    c => prop_assert!(!is_line_break(c), "line break in {out:?}"),
                }
            }
        }

        #[test]
        fn mermaid_never_leaks(s in hostile()) {
            let out = mermaid(&s, 80);
            let bad = ['"', '`', '\n', '\r', '\u{2028}', '\u{2029}', '\u{85}'];
            prop_assert!(!out.contains(bad), "{:?}", out);
            prop_assert!(out.chars().count() <= 80);
        }

        #[test]
        fn html_never_leaks(s in hostile()) {
            let out = html(&s);
            prop_assert!(!out.contains(['<', '>', '"', '\'']));
            // Every `&` starts one of our entities.
            for (i, _) in out.match_indices('&') {
                let rest = &out[i..];
                prop_assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].iter().any(|e| rest.starts_with(e)));
            }
        }
    }

    #[test]
    fn examples() {
        assert_eq!(markdown("a|b"), "a\\|b");
        assert_eq!(markdown("@octocat"), "@&#8203;octocat");
        assert_eq!(markdown("val_loss\n"), "val\\_loss ");
        assert_eq!(markdown("&lt;"), "&amp;lt;");
        assert_eq!(mermaid("say \"hi\"\n```", 80), "say  hi");
        assert_eq!(html("</svg><script>"), "&lt;/svg&gt;&lt;script&gt;");
    }
}
