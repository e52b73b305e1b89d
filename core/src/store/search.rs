//! Full-text search over notes. What a person types is always searched as text: every word
//! becomes a quoted FTS5 phrase, so quotes, `AND`, `NEAR`, `*`, `-` and column filters in the
//! input are never interpreted as query syntax.

/// Turns user text into an FTS5 query matching notes that contain every word. `None` when the
/// text has no searchable word.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn operators_and_quotes_become_phrases() {
        assert_eq!(
            fts_query("housing AND court").as_deref(),
            Some("\"housing\" \"AND\" \"court\"")
        );
        assert_eq!(fts_query("say \"hi").as_deref(), Some("\"say\" \"\"\"hi\""));
        assert_eq!(fts_query("  \" * - ").as_deref(), None);
    }
}
