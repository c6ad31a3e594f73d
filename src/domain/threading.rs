//! Threading rules for mail: which headers our replies carry.

/// How many Message-IDs a References header keeps; the first (the thread's root) always stays.
const MAX_REFERENCES: usize = 20;

/// In-Reply-To and References for a staff reply: In-Reply-To names the consulter's newest
/// message, or our acknowledgement when the consultation came by form (it has no Message-ID).
pub fn reply_headers(
    thread_ids_oldest_first: &[String],
    newest_inbound: Option<&str>,
    ack_id: Option<&str>,
) -> Option<(String, Vec<String>)> {
    let in_reply_to = newest_inbound.or(ack_id)?.to_string();
    let mut references: Vec<String> = thread_ids_oldest_first.to_vec();
    if references.len() > MAX_REFERENCES {
        let tail = references.split_off(references.len() - (MAX_REFERENCES - 1));
        references.truncate(1);
        references.extend(tail);
    }
    Some((in_reply_to, references))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_answer_the_newest_consulter_message() {
        let ids: Vec<String> = ["a", "ack", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            reply_headers(&ids, Some("b"), Some("ack")),
            Some(("b".into(), ids.clone()))
        );
        assert_eq!(
            reply_headers(&ids[1..2], None, Some("ack")),
            Some(("ack".into(), vec!["ack".into()]))
        );
        assert_eq!(reply_headers(&[], None, None), None);
    }

    #[test]
    fn long_threads_keep_the_root_and_the_newest() {
        let ids: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
        let (_, refs) = reply_headers(&ids, Some("m29"), None).unwrap();
        assert_eq!(refs.len(), 20);
        assert_eq!(refs[0], "m0");
        assert_eq!(refs[1], "m11");
        assert_eq!(refs[19], "m29");
    }
}
