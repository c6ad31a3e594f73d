//! What keeps `/consult` from serving other sites and scripts (CONTRACT §6): a post whose
//! `Origin` or `Sec-Fetch-Site` says another site sent it is refused; the rest must bring back
//! the form's signed token, unchanged and not too soon, and leave the hidden field empty.
//! Without these, anyone could make the desk mail its acknowledgement to any address.

use actix_web::HttpRequest;
use actix_web::http::header::{HOST, ORIGIN};
use chrono::{DateTime, Utc};

use crate::domain::form_token::{self, Verdict};

/// The hidden field a person never sees and leaves empty; scripts that fill every field fill it.
pub const HONEYPOT: &str = "homepage";

/// Whether the request's own headers say it came from a page of ours. A request without
/// `Origin` and `Sec-Fetch-Site` (old browsers, programs) is judged by the token alone.
pub fn from_our_site(req: &HttpRequest, public_base_url: &str) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    same_site(
        header(ORIGIN.as_str()),
        header("sec-fetch-site"),
        header(HOST.as_str()),
        public_base_url,
    )
}

/// The rule itself. `Origin` is ours when it names the address people reach us at
/// (`server.public_base_url`) or the host the request was sent to (any scheme: a reverse proxy
/// may end TLS before us).
pub fn same_site(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    host: Option<&str>,
    public_base_url: &str,
) -> bool {
    let fetch_site = fetch_site.map(|s| s.trim().to_ascii_lowercase());
    if fetch_site.as_deref() == Some("cross-site") {
        return false;
    }
    let Some(origin) = origin.map(str::trim) else {
        return true;
    };
    if origin == "null" {
        // An opaque origin (a sandboxed frame, a page that withholds its origin): taken only
        // when the browser itself vouches that the post came from our own pages.
        return fetch_site.as_deref() == Some("same-origin");
    }
    let Some(origin) = normalise_origin(origin) else {
        return false;
    };
    if normalise_origin(public_base_url).is_some_and(|ours| ours == origin) {
        return true;
    }
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    host.is_some_and(|h| {
        let h = h.trim().to_ascii_lowercase();
        h == authority
            || h.strip_suffix(":80").is_some_and(|h| h == authority)
            || h.strip_suffix(":443").is_some_and(|h| h == authority)
    })
}

/// `scheme://host[:port]`, lower-cased, without a default port or any path.
fn normalise_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || !matches!(scheme.as_str(), "http" | "https") {
        return None;
    }
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host.to_string(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

/// What becomes of a form post that came from our site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Take,
    /// Not taken: shown again, with what was written, to be sent once more. `renew`: with a
    /// new token (the one sent cannot become good by waiting).
    SendAgain {
        renew: bool,
    },
}

pub fn judge(
    secret: &[u8],
    token: Option<&str>,
    honeypot: Option<&str>,
    now: DateTime<Utc>,
) -> Judgement {
    if honeypot.is_some_and(|h| !h.is_empty()) {
        return Judgement::SendAgain { renew: true };
    }
    match token.map(|t| form_token::check(secret, t, now)) {
        Some(Verdict::Fresh) => Judgement::Take,
        Some(Verdict::TooQuick) => Judgement::SendAgain { renew: false },
        Some(Verdict::Expired | Verdict::Invalid) | None => Judgement::SendAgain { renew: true },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "https://soudan.example.org/";

    #[test]
    fn posts_from_other_sites_are_refused() {
        let host = Some("soudan.example.org");
        // (Origin, Sec-Fetch-Site, Host, taken)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, bool);
        let cases: &[Case] = &[
            // No header at all: judged by the token.
            (None, None, host, true),
            (None, Some("same-origin"), host, true),
            (None, Some("none"), host, true),
            (None, Some("cross-site"), host, false),
            (None, Some("Cross-Site"), host, false),
            // Origin of our public address, with or without the default port.
            (Some("https://soudan.example.org"), None, host, true),
            (
                Some("https://SOUDAN.example.org:443"),
                Some("same-origin"),
                host,
                true,
            ),
            (
                Some("https://soudan.example.org"),
                Some("cross-site"),
                host,
                false,
            ),
            // The host the request was sent to, whatever the scheme (TLS ends at a proxy).
            (
                Some("http://127.0.0.1:8080"),
                None,
                Some("127.0.0.1:8080"),
                true,
            ),
            (Some("http://intranet"), None, Some("intranet:80"), true),
            // Anyone else, a sibling on the same site included.
            (Some("https://evil.example"), None, host, false),
            (
                Some("https://evil.example"),
                Some("same-origin"),
                host,
                false,
            ),
            (
                Some("https://www.example.org"),
                Some("same-site"),
                host,
                false,
            ),
            (
                Some("https://soudan.example.org.evil.example"),
                None,
                host,
                false,
            ),
            (
                Some("http://127.0.0.1:9999"),
                None,
                Some("127.0.0.1:8080"),
                false,
            ),
            (Some("https://evil.example"), None, None, false),
            // Not an origin at all.
            (Some("soudan.example.org"), None, host, false),
            (Some("ftp://soudan.example.org"), None, host, false),
            (Some(""), None, host, false),
            // An opaque origin only with the browser's word that it is our own page.
            (Some("null"), None, host, false),
            (Some("null"), Some("same-site"), host, false),
            (Some("null"), Some("cross-site"), host, false),
            (Some("null"), Some("same-origin"), host, true),
        ];
        for &(origin, fetch_site, host, expected) in cases {
            assert_eq!(
                same_site(origin, fetch_site, host, OURS),
                expected,
                "Origin {origin:?}, Sec-Fetch-Site {fetch_site:?}, Host {host:?}"
            );
        }
        assert!(same_site(
            Some("http://madoguchi.local:8080"),
            None,
            Some("127.0.0.1:8080"),
            "http://madoguchi.local:8080/consult"
        ));
    }

    #[test]
    fn only_an_untouched_form_sent_after_a_while_is_taken() {
        let secret = b"s";
        let served: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let token = form_token::issue(secret, served);
        let later = served + chrono::Duration::seconds(10);
        let again = Judgement::SendAgain { renew: true };
        assert_eq!(judge(secret, Some(&token), None, later), Judgement::Take);
        assert_eq!(
            judge(secret, Some(&token), Some(""), later),
            Judgement::Take
        );
        assert_eq!(
            judge(secret, Some(&token), Some("http://spam"), later),
            again
        );
        assert_eq!(
            judge(
                secret,
                Some(&token),
                None,
                served + chrono::Duration::seconds(1)
            ),
            Judgement::SendAgain { renew: false }
        );
        assert_eq!(judge(secret, None, None, later), again);
        assert_eq!(judge(secret, Some("made up"), None, later), again);
        assert_eq!(judge(b"other", Some(&token), None, later), again);
        assert_eq!(
            judge(
                secret,
                Some(&token),
                None,
                served + chrono::Duration::days(8)
            ),
            again
        );
    }
}
