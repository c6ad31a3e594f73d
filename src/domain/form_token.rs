//! The signed token of the consultation form: it carries the time the form was served, signed
//! with HMAC-SHA256, so a post can be judged without keeping any state. A person needs more
//! than a few seconds to write a consultation; a script that posts at once, or makes up its
//! own token, does not get one taken (CONTRACT §6).

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Shorter than this between serving the form and its post: not a person writing.
pub const MIN_FILL: Duration = Duration::seconds(3);
/// Older than this: served before the last change of secret at the latest, or harvested.
/// Generous, since a person may leave a half-written form open for days.
pub const MAX_AGE: Duration = Duration::days(7);
/// The clocks of several instances may differ this much.
const CLOCK_SKEW: Duration = Duration::seconds(60);
/// 128 bits of the MAC are kept: plenty against guessing, short in the page.
const TAG_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Served at least [`MIN_FILL`] ago by us: the post may be taken.
    Fresh,
    /// Ours, but posted too soon after it was served.
    TooQuick,
    /// Ours, but older than [`MAX_AGE`].
    Expired,
    /// Missing, malformed, from the future, or not signed with our secret.
    Invalid,
}

/// A token for a form served at `now`.
pub fn issue(secret: &[u8], now: DateTime<Utc>) -> String {
    let issued = now.timestamp();
    format!("{issued}.{}", hex(&tag(secret, issued)[..TAG_BYTES]))
}

/// Judges the token a form came back with, at `now`.
pub fn check(secret: &[u8], token: &str, now: DateTime<Utc>) -> Verdict {
    let Some((issued, given)) = token.trim().split_once('.') else {
        return Verdict::Invalid;
    };
    let (Ok(issued), Some(given)) = (issued.parse::<i64>(), unhex(given)) else {
        return Verdict::Invalid;
    };
    if given.len() != TAG_BYTES || !signed(secret, issued, &given) {
        return Verdict::Invalid;
    }
    let Some(served) = DateTime::<Utc>::from_timestamp(issued, 0) else {
        return Verdict::Invalid;
    };
    let age = now - served;
    if age < -CLOCK_SKEW {
        Verdict::Invalid
    } else if age < MIN_FILL {
        Verdict::TooQuick
    } else if age > MAX_AGE {
        Verdict::Expired
    } else {
        Verdict::Fresh
    }
}

fn mac(secret: &[u8], issued: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(b"madoguchi consult form v1\n");
    mac.update(issued.to_string().as_bytes());
    mac
}

fn tag(secret: &[u8], issued: i64) -> Vec<u8> {
    mac(secret, issued).finalize().into_bytes().to_vec()
}

/// In constant time, so the tag cannot be found byte by byte.
fn signed(secret: &[u8], issued: i64, given: &[u8]) -> bool {
    mac(secret, issued).verify_truncated_left(given).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of the centre";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_token_is_taken_from_three_seconds_to_seven_days() {
        let served = at("2026-12-01T10:00:00Z");
        let token = issue(SECRET, served);
        assert!(token.starts_with(&format!("{}.", served.timestamp())));
        for (after, verdict) in [
            (Duration::zero(), Verdict::TooQuick),
            (Duration::milliseconds(2999), Verdict::TooQuick),
            (Duration::seconds(3), Verdict::Fresh),
            (Duration::hours(5), Verdict::Fresh),
            (MAX_AGE, Verdict::Fresh),
            (MAX_AGE + Duration::seconds(1), Verdict::Expired),
            (Duration::seconds(-30), Verdict::TooQuick),
            (Duration::seconds(-61), Verdict::Invalid),
        ] {
            assert_eq!(check(SECRET, &token, served + after), verdict, "{after}");
        }
    }

    #[test]
    fn a_token_not_signed_by_us_is_invalid() {
        let served = at("2026-12-01T10:00:00Z");
        let later = served + Duration::minutes(5);
        let token = issue(SECRET, served);
        assert_eq!(check(b"another secret", &token, later), Verdict::Invalid);
        // The time moved back to look older: the tag no longer matches.
        let (_, tag) = token.split_once('.').unwrap();
        let older = format!("{}.{tag}", served.timestamp() - 60);
        assert_eq!(check(SECRET, &older, later), Verdict::Invalid);
        // A flipped character of the tag.
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(check(SECRET, &flipped, later), Verdict::Invalid);
        for junk in [
            "",
            ".",
            "abc",
            "1764583200",
            "1764583200.",
            "x.00112233445566778899aabbccddeeff",
            "1764583200.0011",
            "1764583200.zz112233445566778899aabbccddeeff",
            "1764583200.00112233445566778899aabbccddeeffaa",
            "1764583200.ｆｆ",
            "99999999999999999999.00112233445566778899aabbccddeeff",
            "-99999999999999.00112233445566778899aabbccddeeff",
        ] {
            assert_eq!(check(SECRET, junk, later), Verdict::Invalid, "{junk:?}");
        }
    }

    #[test]
    fn tokens_differ_by_secret_and_time() {
        let t = at("2026-12-01T10:00:00Z");
        assert_eq!(issue(SECRET, t), issue(SECRET, t));
        assert_ne!(issue(SECRET, t), issue(b"other", t));
        assert_ne!(issue(SECRET, t), issue(SECRET, t + Duration::seconds(1)));
        // Surrounding spaces (a copied form) do not matter.
        let padded = format!(" {} ", issue(SECRET, t));
        assert_eq!(
            check(SECRET, &padded, t + Duration::seconds(4)),
            Verdict::Fresh
        );
    }

    #[test]
    fn the_mac_is_hmac_sha256() {
        // RFC 4231 test case 2 checks the primitive under our framing.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
