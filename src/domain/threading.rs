//! Which ticket an incoming mail belongs to, and the threading headers of our replies
//! (docs/CONTRACT.md §5). Pure decisions: the caller looks the candidates up and acts on the
//! answer.

use crate::domain::reference;
use crate::domain::vocabulary::TicketId;

/// Shown for a mail whose subject is empty once cleaned.
pub const NO_SUBJECT: &str = "(件名なし)";

/// The most `References` ids a reply carries; long threads keep the first and the latest.
pub const MAX_REFERENCES: usize = 20;

/// Reply and forward markers, compared ASCII-case-insensitively, as mail clients here write
/// them (full-width forms from Japanese phones included). Longer forms come first so `Fwd`
/// is not read as `Fw` + `d`.
const PREFIXES: &[&str] = &[
    "fwd",
    "fw",
    "re",
    "ｆｗｄ",
    "ｆｗ",
    "ｒｅ",
    "ＦＷＤ",
    "ＦＷ",
    "ＲＥ",
    "Ｆｗｄ",
    "Ｆｗ",
    "Ｒｅ",
    "返信",
    "転送",
];

/// A subject without reply/forward markers and our `[#REFERENCE]` tag, for showing and for
/// building `Re: <original subject> [#REFERENCE]`.
pub fn clean_subject(s: &str) -> String {
    let untagged = remove_reference_tags(s);
    let mut rest = collapse_whitespace(&untagged);
    while let Some(after) = strip_marker(&rest) {
        rest = after.trim_start().to_owned();
    }
    if rest.is_empty() {
        NO_SUBJECT.to_owned()
    } else {
        rest
    }
}

/// `rest` after one leading marker such as `Re:`, `RE：`, `Re[2]:`, `Fwd:` or `返信:`.
fn strip_marker(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let prefix = PREFIXES.iter().find(|p| lower.starts_with(*p))?;
    // ASCII lower-casing keeps byte offsets, so the prefix length applies to `s` too.
    let mut rest = &s[prefix.len()..];
    // A reply counter: `Re[2]:`, `Re(2):`, `Re^2:`.
    if let Some(inner) = rest.strip_prefix(['[', '(']) {
        let digits = inner.len() - inner.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let after = &inner[digits..];
        if digits > 0 && after.starts_with([']', ')']) {
            rest = &after[1..];
        }
    } else if let Some(inner) = rest.strip_prefix('^') {
        rest = inner.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let rest = rest.strip_prefix([':', '：'])?;
    Some(rest.to_owned())
}

/// Removes every `[#REFERENCE]` tag (any case, as `reference::find_in_subject` reads them);
/// other bracketed text such as `[shimin:0123]` stays. Repeated until none is left, as
/// removing `[#[#K7QM-4WXZ]K7QM-4WXZ]`'s inner tag leaves an outer one.
fn remove_reference_tags(s: &str) -> String {
    let mut current = s.to_owned();
    loop {
        let next = remove_reference_tags_once(&current);
        if next == current {
            return next;
        }
        current = next;
    }
}

fn remove_reference_tags_once(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        match after.find(']') {
            Some(end) if reference::is_reference(&after[..end].trim().to_ascii_uppercase()) => {
                out.push_str(&rest[..start]);
                out.push(' ');
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs of whitespace (folding, tabs) become one space; a lone ideographic space, which
/// Japanese writers put between words on purpose, is kept.
fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.trim().chars() {
        if c.is_whitespace() {
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

/// A ticket a mail might join, with the address that ticket's consulter writes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket_id: TicketId,
    pub consulter_email: String,
}

/// What the caller found for an incoming mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadFacts<'a> {
    /// Its Message-ID is already stored.
    pub already_stored: bool,
    /// The ticket of a message named in its In-Reply-To or References.
    pub header_match: Option<Candidate>,
    /// The ticket named by a `[#REFERENCE]` tag in its subject.
    pub subject_match: Option<Candidate>,
    /// Its From address.
    pub sender: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// Already stored: do not store it again.
    Duplicate,
    /// Add it to this ticket.
    Join(TicketId),
    /// Open a new ticket.
    New,
}

/// Duplicate first; then a header match joins; a subject reference joins only when the
/// sender is that ticket's consulter, so a stranger quoting a reference (or a consulter's
/// mail forwarded by someone else) never lands in another person's consultation.
pub fn decide(facts: &ThreadFacts<'_>) -> Thread {
    if facts.already_stored {
        return Thread::Duplicate;
    }
    if let Some(c) = &facts.header_match {
        return Thread::Join(c.ticket_id);
    }
    match (&facts.subject_match, facts.sender) {
        (Some(c), Some(sender)) if same_address(sender, &c.consulter_email) => {
            Thread::Join(c.ticket_id)
        }
        _ => Thread::New,
    }
}

/// Whether two mail addresses name the same mailbox, erring towards "no".
///
/// The domain is compared case-insensitively (DNS is), ignoring a trailing dot. The local
/// part is compared exactly (RFC 5321 §2.4 leaves its case to the receiving host): a false
/// "no" only opens a new ticket that staff can merge, while a false "yes" would put one
/// person's words into another's consultation. No plus-tag or dot folding either, for the
/// same reason. Surrounding spaces and angle brackets are ignored; a missing `@` never matches.
pub fn same_address(a: &str, b: &str) -> bool {
    match (split_address(a), split_address(b)) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

fn split_address(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let s = s
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s)
        .trim();
    let (local, domain) = s.rsplit_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    (!local.is_empty() && !domain.is_empty()).then_some((local, domain))
}

/// `In-Reply-To` and `References` for a staff reply, as bare ids (the caller adds `<>`).
///
/// In-Reply-To is the newest consulter message, else the acknowledgement (form tickets),
/// else the newest message of the thread. References is the thread oldest first, without
/// duplicates (the parent appended if the thread lacks it), capped to the first id plus the
/// latest ones. Chronological order is kept even when staff replied after the parent:
/// reordering would contradict the References of the mails already sent, and clients take
/// the first id as the thread's root. `None` when there is nothing to refer to.
pub fn reply_headers(
    thread_ids_oldest_first: &[String],
    newest_inbound: Option<&str>,
    ack_id: Option<&str>,
) -> Option<(String, Vec<String>)> {
    let clean = |id: &str| {
        id.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_owned()
    };
    let mut refs: Vec<String> = Vec::with_capacity(thread_ids_oldest_first.len() + 1);
    for id in thread_ids_oldest_first.iter().map(|id| clean(id)) {
        if !id.is_empty() && !refs.contains(&id) {
            refs.push(id);
        }
    }
    let parent = [newest_inbound, ack_id]
        .into_iter()
        .flatten()
        .map(clean)
        .find(|id| !id.is_empty())
        .or_else(|| refs.last().cloned())?;
    if !refs.contains(&parent) {
        refs.push(parent.clone());
    }
    if refs.len() > MAX_REFERENCES {
        let first = refs[0].clone();
        let tail = refs.split_off(refs.len() - (MAX_REFERENCES - 1));
        refs = std::iter::once(first).chain(tail).collect();
    }
    Some((parent, refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_and_forward_markers_are_stripped_from_the_start_only() {
        let cases = [
            ("Re: 相談", "相談"),
            ("RE: Re: re:相談", "相談"),
            ("Fwd: FW: Fw: 相談", "相談"),
            ("返信: 転送: 相談", "相談"),
            ("Re：返信：相談", "相談"),
            ("Re[2]: 相談", "相談"),
            ("Re(3): 相談", "相談"),
            ("Re^2: 相談", "相談"),
            ("Ｒｅ：相談", "相談"),
            ("ＦＷ: 相談", "相談"),
            ("相談 Re: 予約", "相談 Re: 予約"),
            ("Report: 月報", "Report: 月報"),
            ("Re 相談", "Re 相談"),
            ("Re[x]: 相談", "Re[x]: 相談"),
            ("Fwd相談", "Fwd相談"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_subject(input), want, "{input}");
        }
    }

    #[test]
    fn our_reference_tag_goes_wherever_it_is() {
        assert_eq!(
            clean_subject("Re: 面談の予約について [#K7QM-4WXZ]"),
            "面談の予約について"
        );
        assert_eq!(
            clean_subject("[#K7QM-4WXZ] Re: 相談"),
            "相談",
            "markers after a leading tag"
        );
        assert_eq!(
            clean_subject("相談 [#k7qm-4wxz] です"),
            "相談 です",
            "any case"
        );
        assert_eq!(clean_subject("[# K7QM-4WXZ ]相談"), "相談");
        assert_eq!(
            clean_subject("[shimin:0123] お知らせ"),
            "[shimin:0123] お知らせ"
        );
        assert_eq!(
            clean_subject("[#K7QM-4WX0] 相談"),
            "[#K7QM-4WX0] 相談",
            "not a reference"
        );
        assert_eq!(clean_subject("[#abc [#K7QM-4WXZ]"), "[#abc");
        assert_eq!(
            clean_subject("[#[#K7QM-4WXZ]K7QM-4WXZ] 相談"),
            "相談",
            "nested tags"
        );
    }

    #[test]
    fn whitespace_is_collapsed_and_empty_gets_a_placeholder() {
        assert_eq!(clean_subject("  相談\t\r\n  の件  "), "相談 の件");
        assert_eq!(
            clean_subject("相談　の件"),
            "相談\u{3000}の件",
            "one ideographic space stays"
        );
        assert_eq!(clean_subject("相談　　の件"), "相談 の件");
        assert_eq!(clean_subject(""), NO_SUBJECT);
        assert_eq!(clean_subject(" Re: "), NO_SUBJECT);
        assert_eq!(clean_subject("Re: [#K7QM-4WXZ]"), NO_SUBJECT);
    }

    fn cand(id: i64, email: &str) -> Option<Candidate> {
        Some(Candidate {
            ticket_id: TicketId(id),
            consulter_email: email.into(),
        })
    }

    #[test]
    fn duplicate_beats_everything() {
        let facts = ThreadFacts {
            already_stored: true,
            header_match: cand(1, "a@b.jp"),
            subject_match: cand(1, "a@b.jp"),
            sender: Some("a@b.jp"),
        };
        assert_eq!(decide(&facts), Thread::Duplicate);
    }

    #[test]
    fn header_match_joins_whoever_sends() {
        let facts = ThreadFacts {
            already_stored: false,
            header_match: cand(7, "a@b.jp"),
            subject_match: cand(9, "x@y.jp"),
            sender: Some("someone@else.jp"),
        };
        assert_eq!(decide(&facts), Thread::Join(TicketId(7)));
    }

    #[test]
    fn subject_reference_joins_only_its_consulter() {
        let base = ThreadFacts {
            already_stored: false,
            header_match: None,
            subject_match: cand(9, "Hanako.Sato@example.ne.jp"),
            sender: Some("Hanako.Sato@EXAMPLE.NE.JP"),
        };
        assert_eq!(decide(&base), Thread::Join(TicketId(9)));
        let stranger = ThreadFacts {
            sender: Some("stranger@example.ne.jp"),
            ..base.clone()
        };
        assert_eq!(decide(&stranger), Thread::New);
        let case = ThreadFacts {
            sender: Some("hanako.sato@example.ne.jp"),
            ..base.clone()
        };
        assert_eq!(
            decide(&case),
            Thread::New,
            "local parts are compared exactly"
        );
        let nobody = ThreadFacts {
            sender: None,
            ..base.clone()
        };
        assert_eq!(decide(&nobody), Thread::New);
        let nothing = ThreadFacts {
            subject_match: None,
            ..base
        };
        assert_eq!(decide(&nothing), Thread::New);
    }

    #[test]
    fn address_comparison() {
        assert!(same_address("taro@Example.JP", "taro@example.jp"));
        assert!(same_address(" <taro@example.jp> ", "taro@example.jp."));
        assert!(!same_address("Taro@example.jp", "taro@example.jp"));
        assert!(!same_address("taro+x@example.jp", "taro@example.jp"));
        assert!(!same_address("taro@example.jp", "taro@example.jp.evil"));
        assert!(!same_address("taro", "taro"), "no domain, no match");
        assert!(!same_address("@example.jp", "@example.jp"));
        assert!(!same_address("", ""));
        // Old docomo addresses break RFC 5322 but are real; compared as given.
        assert!(same_address(
            "taro..yamada.@docomo.ne.jp",
            "taro..yamada.@DOCOMO.ne.jp"
        ));
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reply_to_the_newest_consulter_message() {
        let thread = ids(&["m1@c", "ack@us", "m2@c", "s1@us"]);
        let (irt, refs) = reply_headers(&thread, Some("m2@c"), Some("ack@us")).unwrap();
        assert_eq!(irt, "m2@c");
        assert_eq!(refs, thread, "oldest first, as sent");
    }

    #[test]
    fn form_tickets_reply_to_the_acknowledgement() {
        let thread = ids(&["ack@us"]);
        let (irt, refs) = reply_headers(&thread, None, Some("<ack@us>")).unwrap();
        assert_eq!(irt, "ack@us");
        assert_eq!(refs, ids(&["ack@us"]));
        let (irt, refs) = reply_headers(&[], None, Some("ack@us")).unwrap();
        assert_eq!(
            (irt.as_str(), refs),
            ("ack@us", ids(&["ack@us"])),
            "parent added"
        );
    }

    #[test]
    fn without_inbound_or_ack_the_newest_message_is_the_parent() {
        let thread = ids(&["s1@us", "s2@us"]);
        let (irt, refs) = reply_headers(&thread, None, None).unwrap();
        assert_eq!(irt, "s2@us");
        assert_eq!(refs, thread);
        assert_eq!(reply_headers(&[], None, None), None);
        assert_eq!(
            reply_headers(&ids(&["", " <> "]), Some(" "), Some("")),
            None
        );
    }

    #[test]
    fn duplicates_and_brackets_are_cleaned() {
        let thread = ids(&["<a@x>", "a@x", " b@x ", ""]);
        let (irt, refs) = reply_headers(&thread, Some("<a@x>"), None).unwrap();
        assert_eq!(irt, "a@x");
        assert_eq!(refs, ids(&["a@x", "b@x"]));
    }

    #[test]
    fn long_threads_keep_the_first_and_the_latest() {
        let thread: Vec<String> = (0..30).map(|i| format!("m{i}@x")).collect();
        let (irt, refs) = reply_headers(&thread, Some("m29@x"), None).unwrap();
        assert_eq!(irt, "m29@x");
        assert_eq!(refs.len(), MAX_REFERENCES);
        assert_eq!(refs[0], "m0@x");
        assert_eq!(refs[1], "m11@x");
        assert_eq!(refs[MAX_REFERENCES - 1], "m29@x");
        let exact: Vec<String> = (0..MAX_REFERENCES).map(|i| format!("m{i}@x")).collect();
        let (_, refs) = reply_headers(&exact, None, None).unwrap();
        assert_eq!(refs, exact, "at the cap nothing is dropped");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn cleaning_is_idempotent(s in r"(Re|RE|Fwd|返信|転送|\[#K7QM-4WXZ\]|K7QM-4WXZ\]|\[#|\]|[:：\[\]2 　\t]|相談|x){0,12}") {
                let once = clean_subject(&s);
                prop_assert_eq!(clean_subject(&once), once.clone());
                prop_assert!(!once.is_empty());
                prop_assert!(reference::find_in_subject(&once).is_none(), "no tag survives: {}", once);
            }

            #[test]
            fn references_stay_within_the_cap(n in 0usize..60, parent in proptest::option::of(0usize..70)) {
                let thread: Vec<String> = (0..n).map(|i| format!("m{i}@x")).collect();
                let parent = parent.map(|p| format!("m{p}@x"));
                if let Some((irt, refs)) = reply_headers(&thread, parent.as_deref(), None) {
                    prop_assert!(refs.len() <= MAX_REFERENCES);
                    if n > 0 {
                        prop_assert_eq!(&refs[0], &thread[0], "the root stays first");
                    }
                    if !thread.contains(&irt) {
                        prop_assert_eq!(refs.last(), Some(&irt), "an outside parent goes last");
                    }
                } else {
                    prop_assert!(n == 0 && parent.is_none());
                }
            }
        }
    }
}

/// The sender's own words: quoted lines (`>`) and everything from a reply header such as
/// "-----Original Message-----" or "… wrote:" / "…書きました：" on are dropped.
pub fn strip_quoted(text: &str) -> String {
    let mut own = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let header = t.contains("Original Message")
            || t.starts_with("-----") && t.contains("転送")
            || t.ends_with("wrote:")
            || t.ends_with("書きました：")
            || t.ends_with("書きました:");
        if header {
            break;
        }
        if !t.starts_with('>') && !t.starts_with('＞') {
            own.push(line);
        }
    }
    own.join("\n")
}

#[cfg(test)]
mod quoted_tests {
    use super::strip_quoted;

    #[test]
    fn quotes_and_reply_headers_are_left_out() {
        let text = "ありがとうございます。\n> 死にたいというお気持ち\n\n2026年11月25日 10:00 センター <soudan@example.org>:書きました：\n死にたい";
        assert_eq!(strip_quoted(text), "ありがとうございます。\n");
        assert_eq!(
            strip_quoted("本文\n-----Original Message-----\n引用"),
            "本文"
        );
        assert_eq!(strip_quoted("On Mon, Jan 1 X wrote:\n> a"), "");
        assert_eq!(strip_quoted("引用なし\n二行目"), "引用なし\n二行目");
    }
}
