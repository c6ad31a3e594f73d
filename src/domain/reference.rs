//! Ticket references: random, not sequential, and easy to read aloud on the phone.

/// 32 symbols without 0/O and 1/I, so a reference read over the phone is not misheard.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Entropy bytes a reference needs: 40 bits, eight symbols.
pub const ENTROPY_BYTES: usize = 5;

/// Turns 40 random bits into a reference such as `K7QM-4WXZ`.
pub fn from_entropy(bytes: [u8; ENTROPY_BYTES]) -> String {
    let mut bits = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut symbols = [0u8; 8];
    for slot in symbols.iter_mut().rev() {
        *slot = ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    let mut out = String::with_capacity(9);
    for (i, s) in symbols.iter().enumerate() {
        if i == 4 {
            out.push('-');
        }
        out.push(char::from(*s));
    }
    out
}

/// Whether `s` has the shape of one of our references (case-sensitive, as we write them).
pub fn is_reference(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || ALPHABET.contains(c))
}

/// A reference as a person typed it after hearing it on the phone: any letter case, with or
/// without the hyphen, with spaces or other dashes between the groups, in full-width
/// characters from a Japanese input method. Returned as we write it, or `None` when it cannot
/// be one of ours.
pub fn normalise(typed: &str) -> Option<String> {
    let symbols: String = typed
        .chars()
        .map(|c| match c {
            // Full-width ASCII (Ｋ７ＱＭ) sits at a fixed distance from ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if symbols.len() != 8 {
        return None;
    }
    let candidate = format!("{}-{}", &symbols[..4], &symbols[4..]);
    is_reference(&candidate).then_some(candidate)
}

/// The reference in a subject's `[#REFERENCE]` tag, if any. A consulter's mail client may
/// change its case, so it is read case-insensitively and returned as we write it.
pub fn find_in_subject(subject: &str) -> Option<String> {
    let mut rest = subject;
    while let Some(start) = rest.find("[#") {
        let after = &rest[start + 2..];
        if let Some(end) = after.find(']') {
            let candidate = after[..end].trim().to_ascii_uppercase();
            if is_reference(&candidate) {
                return Some(candidate);
            }
        }
        rest = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_reference_is_found_however_it_was_typed() {
        for typed in [
            "K7QM-4WXZ",
            "k7qm-4wxz",
            "K7QM4WXZ",
            " k7qm 4wxz ",
            "K7QM－4WXZ",
            "Ｋ７ＱＭ－４ＷＸＺ",
            "k7qm―4wxz",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some("K7QM-4WXZ"), "{typed:?}");
        }
        for not_ours in [
            "",
            "K7QM-4WX",
            "K7QM-4WXZZ",
            "K0QM-4WXZ",
            "K7QM-4WXI",
            "'; drop",
        ] {
            assert_eq!(normalise(not_ours), None, "{not_ours:?}");
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(from_entropy([0; 5]), "2222-2222");
        assert_eq!(from_entropy([0xff; 5]), "ZZZZ-ZZZZ");
    }

    #[test]
    fn subject_tags_are_found() {
        assert_eq!(
            find_in_subject("Re: 相談 [#K7QM-4WXZ]").as_deref(),
            Some("K7QM-4WXZ")
        );
        assert_eq!(
            find_in_subject("[#bad] x [#k7qm-4wxz]").as_deref(),
            Some("K7QM-4WXZ")
        );
        assert_eq!(find_in_subject("[#K7QM-4WX0]"), None, "0 is never used");
        assert_eq!(find_in_subject("K7QM-4WXZ"), None, "only inside the tag");
        assert_eq!(find_in_subject("[#K7QM-4WXZ"), None);
    }

    proptest! {
        #[test]
        fn every_reference_matches_the_contract(bytes in any::<[u8; 5]>()) {
            let r = from_entropy(bytes);
            prop_assert!(is_reference(&r));
            prop_assert!(r.len() >= 6 && r.len() <= 20);
            prop_assert!(r.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'));
            prop_assert!(!r.contains(['0', 'O', '1', 'I']));
        }

        #[test]
        fn distinct_entropy_gives_distinct_references(a in any::<[u8; 5]>(), b in any::<[u8; 5]>()) {
            prop_assume!(a != b);
            prop_assert_ne!(from_entropy(a), from_entropy(b));
        }
    }
}
