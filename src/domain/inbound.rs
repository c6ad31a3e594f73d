//! What is kept of what arrives (a mail or a form), whatever a sender puts in it: bounded
//! lookups for threading, one-line capped names and subjects, and Message-IDs safe to copy
//! into our own headers. Pure rules; the raw mail itself is always kept whole elsewhere.

/// The most `References` ids a mail's threading looks up: the latest ones name the
/// nearest messages. Without a bound, a mail naming 33,000 ids made one query with more
/// variables than SQLite allows, and the mail could never be stored.
pub const MAX_LOOKUP_REFERENCES: usize = 50;
/// `In-Reply-To` names one parent; a few are looked at, the rest ignored.
pub const MAX_LOOKUP_IN_REPLY_TO: usize = 5;

/// Longest stored subject, in characters (the form allows 200).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest stored name, in characters (the form allows 100).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest Message-ID copied into our `In-Reply-To`/`References` (RFC 5322 lines are 998).
pub const MAX_MESSAGE_ID_LEN: usize = 250;

/// The ids a mail's threading looks up: the first few of `In-Reply-To`, then the latest
/// [`MAX_LOOKUP_REFERENCES`] of `References`, each once.
pub fn ids_to_look_up(in_reply_to: &[String], references: &[String]) -> Vec<String> {
    let latest = references.len().saturating_sub(MAX_LOOKUP_REFERENCES);
    let mut out: Vec<String> = Vec::new();
    for id in in_reply_to
        .iter()
        .take(MAX_LOOKUP_IN_REPLY_TO)
        .chain(references[latest..].iter().rev())
    {
        if !out.contains(id) {
            out.push(id.clone());
        }
    }
    out
}

/// A name or subject on one line: line breaks, tabs and other control characters, and runs
/// of white space, become one space (a lone ideographic space, put between words on
/// purpose, is kept), so nobody can start a new line in a mail's greeting or a header.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s
        .trim_matches(|c: char| c.is_whitespace() || c.is_control())
        .chars()
    {
        if c.is_whitespace() || c.is_control() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            out.push_str(if run == "\u{3000}" { "\u{3000}" } else { " " });
            run.clear();
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, cut at a character boundary, with `…` marking the cut.
pub fn capped(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// A subject as stored: one line, capped.
pub fn stored_subject(s: &str) -> String {
    capped(&one_line(s), MAX_SUBJECT_CHARS)
}

/// A name as stored: one line, capped; none when nothing is left.
pub fn stored_name(s: Option<&str>) -> Option<String> {
    s.map(|n| capped(&one_line(n), MAX_NAME_CHARS))
        .filter(|n| !n.is_empty())
}

/// Whether a Message-ID (without angle brackets) may be copied into our own headers as it
/// is: `left@right`, printable ASCII without spaces, brackets, quotes, commas or
/// backslashes, and not overlong. Anything else (a sender's `<a b@c>`, a header injection
/// attempt) is left out of our `In-Reply-To`/`References` rather than repaired.
pub fn safe_message_id(id: &str) -> bool {
    let Some((left, right)) = id.split_once('@') else {
        return false;
    };
    id.len() <= MAX_MESSAGE_ID_LEN
        && !left.is_empty()
        && !right.is_empty()
        && !right.contains('@')
        && id.bytes().all(|b| {
            b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b',' | b'(' | b')')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("r{i}@x.jp")).collect()
    }

    #[test]
    fn lookups_are_bounded_to_the_parent_and_the_latest_references() {
        let found = ids_to_look_up(&["p@x.jp".into()], &ids(33_000));
        assert_eq!(found.len(), 1 + MAX_LOOKUP_REFERENCES);
        assert_eq!(found[0], "p@x.jp");
        assert_eq!(found[1], "r32999@x.jp", "the newest reference first");
        assert!(!found.contains(&"r0@x.jp".to_string()));
        let few = ids_to_look_up(&["r1@x.jp".into()], &ids(3));
        assert_eq!(few, vec!["r1@x.jp", "r2@x.jp", "r0@x.jp"], "each once");
        assert!(ids_to_look_up(&[], &[]).is_empty());
        assert_eq!(ids_to_look_up(&ids(40), &[]).len(), MAX_LOOKUP_IN_REPLY_TO);
    }

    #[test]
    fn names_and_subjects_are_one_line() {
        assert_eq!(one_line("  山田\r\n花子\t様 "), "山田 花子 様");
        assert_eq!(one_line("a\u{0}\u{1b}b"), "a b");
        assert_eq!(one_line("山田\u{3000}花子"), "山田\u{3000}花子");
        assert_eq!(one_line("\n\n"), "");
        assert_eq!(stored_name(Some(" \r\n ")), None);
        assert_eq!(
            stored_name(Some("Victim\r\nBcc: x@evil.example")).as_deref(),
            Some("Victim Bcc: x@evil.example")
        );
    }

    #[test]
    fn caps_cut_at_a_character_boundary() {
        assert_eq!(capped("あいうえお", 5), "あいうえお");
        assert_eq!(capped("あいうえおか", 5), "あいうえ…");
        assert_eq!(capped("", 3), "");
        let huge = "件".repeat(10_000_000);
        let s = stored_subject(&huge);
        assert_eq!(s.chars().count(), MAX_SUBJECT_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(
            stored_name(Some(&"x".repeat(500))).unwrap().chars().count(),
            MAX_NAME_CHARS
        );
    }

    #[test]
    fn odd_message_ids_are_not_copied() {
        assert!(safe_message_id("abc.123@mail.example.jp"));
        assert!(safe_message_id("CAF=x+y_z@mail.gmail.com"));
        assert!(!safe_message_id("a b@x.jp"));
        assert!(!safe_message_id("a@x.jp>\r\nBcc: <e@evil"));
        assert!(!safe_message_id("no-at-sign"));
        assert!(!safe_message_id("@x.jp"));
        assert!(!safe_message_id("a@"));
        assert!(!safe_message_id("a@b@c"));
        assert!(!safe_message_id("\"quoted\"@x.jp"));
        assert!(!safe_message_id(&format!("{}@x.jp", "a".repeat(300))));
        assert!(!safe_message_id("日本@x.jp"));
    }
}
