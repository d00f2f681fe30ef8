//! Splits one startup-config line into words, the way libcli (which l2tpns
//! uses to read its config) does: whitespace separates words, `"..."` or
//! `'...'` quote a word that may hold spaces, and `#` or `!` start comments.
//!
//! Differences from libcli, on purpose:
//! * an unterminated quote is an error (libcli silently takes the rest of the line);
//! * `#` inside quotes is literal (libcli cuts the line at any `#`, even in a
//!   quoted secret); the caller warns when this changes the meaning.
//! * `!` starts a comment only at the start of a word, so `abc!def` is one word.

/// Result of splitting one line.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Line {
    pub words: Vec<String>,
    /// A `#` appeared inside a quoted word: l2tpns would have cut the line there.
    pub hash_in_quotes: bool,
}

/// Splits `line` (without its newline) into words, dropping comments.
pub(crate) fn split_line(line: &str) -> Result<Line, String> {
    let mut out = Line::default();
    let mut chars = line.char_indices().peekable();
    loop {
        // Skip whitespace between words.
        while let Some(&(_, c)) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else {
                break;
            }
        }
        let Some((_, c)) = chars.next() else { break };
        match c {
            '#' | '!' => break,
            '"' | '\'' => {
                let quote = c;
                let mut word = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == quote {
                        closed = true;
                        break;
                    }
                    if c == '#' {
                        out.hash_in_quotes = true;
                    }
                    word.push(c);
                }
                if !closed {
                    return Err(format!("unterminated quote ({quote}) in line"));
                }
                out.words.push(word);
            }
            _ => {
                let mut word = String::new();
                word.push(c);
                while let Some(&(_, c)) = chars.peek() {
                    // libcli cuts the line at any `#`, even inside a word.
                    if c.is_whitespace() || c == '#' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.words.push(word);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        split_line(s).unwrap().words
    }

    #[test]
    fn plain_words_and_whitespace() {
        assert_eq!(words("  set\tdebug   3 "), ["set", "debug", "3"]);
        assert!(words("").is_empty());
        assert!(words("   \t").is_empty());
    }

    #[test]
    fn quotes() {
        assert_eq!(
            words(r#"set l2tp_secret "a b c""#),
            ["set", "l2tp_secret", "a b c"]
        );
        assert_eq!(words("set x 'it is'"), ["set", "x", "it is"]);
        assert_eq!(words(r#"set x """#), ["set", "x", ""]);
        assert_eq!(words(r#"set x "it's""#), ["set", "x", "it's"]);
    }

    #[test]
    fn comments() {
        assert!(words("# comment").is_empty());
        assert!(words("! comment").is_empty());
        assert!(words("   ! indented").is_empty());
        assert_eq!(words("set debug 3 # trailing"), ["set", "debug", "3"]);
        assert_eq!(words("set debug 3# glued"), ["set", "debug", "3"]);
        assert_eq!(words("set debug 3 ! trailing"), ["set", "debug", "3"]);
        assert_eq!(
            words("set radius_secret ab!cd"),
            ["set", "radius_secret", "ab!cd"]
        );
    }

    #[test]
    fn hash_inside_quotes_is_literal_but_flagged() {
        let l = split_line(r#"set l2tp_secret "ab#cd""#).unwrap();
        assert_eq!(l.words, ["set", "l2tp_secret", "ab#cd"]);
        assert!(l.hash_in_quotes);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert!(split_line(r#"set l2tp_secret "abc"#).is_err());
        assert!(split_line("set l2tp_secret 'abc").is_err());
    }
}
