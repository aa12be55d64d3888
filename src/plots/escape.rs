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

/// Escape for a GitHub-flavoured Markdown table cell or inline text: [`crate::text::markdown`]
/// (cell and formatting characters escaped, HTML characters as entities, control characters
/// written out, mentions defused), plus `$`, so GitHub does not start maths, and Unicode line
/// separators as spaces.
pub fn markdown(s: &str) -> String {
    crate::text::markdown(&unbreak(s)).replace('$', "\\$")
}

/// Text for a Mermaid quoted string (`title "..."`, axis titles, category labels):
/// [`crate::text::mermaid`] (nothing that ends the string, the block or the line; no mention),
/// plus braces, `%` and backslashes (directives, and escapes it writes for control characters);
/// whitespace, line breaks included, becomes spaces; cut to at most `max` characters.
pub fn mermaid(s: &str, max: usize) -> String {
    // Line breaks and tabs read better as spaces in a chart title than written out as `\n`.
    let spaced: String = s
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut out: String = crate::text::mermaid(&spaced)
        .chars()
        .map(|c| match c {
            '{' | '}' | '%' | '\\' => ' ',
            c => c,
        })
        .take(max)
        .collect();
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.trim_start().to_string()
}

/// Unicode line and paragraph separators as spaces (the control characters are handled by
/// [`crate::text::escape_control`]).
fn unbreak(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\u{2028}', '\u{2029}']) {
        s.replace(['\u{2028}', '\u{2029}'], " ").into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_line_break(c: char) -> bool {
        matches!(
            c,
            '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    }

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
                        !out[i + 1..].starts_with(|n: char| n.is_ascii_alphanumeric()),
                        "a live mention in {out:?}"
                    ),
                    '<' | '>' => prop_assert!(false, "raw {c:?} in {out:?}"),
                    c => prop_assert!(!is_line_break(c), "line break in {out:?}"),
                }
            }
        }

        #[test]
        fn mermaid_never_leaks(s in hostile()) {
            let out = mermaid(&s, 80);
            let bad = ['"', '`', '\n', '\r', '\u{2028}', '\u{2029}', '\u{85}', '{', '}'];
            prop_assert!(!out.contains(bad), "{:?}", out);
            prop_assert!(!out.contains("%%"), "{:?}", out);
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
        assert_eq!(markdown("val_loss"), "val\\_loss");
        assert!(!markdown("a\nb").contains('\n'));
        assert_eq!(markdown("&lt; $x$"), "&amp;lt; \\$x\\$");
        assert_eq!(mermaid("say \"hi\" ```", 80), "say  hi");
        assert_eq!(mermaid("%%{init}%%", 80), "init");
        assert_eq!(html("</svg><script>"), "&lt;/svg&gt;&lt;script&gt;");
    }
}
