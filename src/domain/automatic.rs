//! Whether an incoming mail was sent by a machine (RFC 3834 and common practice), so that
//! we never answer it with an acknowledgement: answering an auto-reply or a bounce starts a
//! mail loop, and answering a mailing list writes to hundreds of strangers.

/// The header fields the classification looks at, as found in the mail (values trimmed and
/// unfolded, otherwise as given; presence-only fields as booleans).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFacts {
    /// `Auto-Submitted` (RFC 3834), e.g. `auto-replied`, `auto-generated`, `no`.
    pub auto_submitted: Option<String>,
    /// `Precedence`, e.g. `bulk`, `junk`, `list`.
    pub precedence: Option<String>,
    /// A `List-Id` field is present (RFC 2919).
    pub list_id: bool,
    /// A `List-Unsubscribe` field is present (RFC 2369): newsletters carry one.
    pub list_unsubscribe: bool,
    /// `X-Auto-Response-Suppress` (Microsoft), e.g. `All`, `OOF, AutoReply`.
    pub x_auto_response_suppress: Option<String>,
    /// `X-Autoreply` or `X-Autorespond` is present with a value other than `no`.
    pub auto_reply_headers: bool,
    /// The top-level Content-Type is `multipart/report` (bounces and read receipts).
    pub content_type_report: bool,
}

/// Why a mail counts as automatic, or `No`. When several reasons hold, the first in this
/// order wins: the most telling reason is the one worth logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    No,
    /// A delivery status notification or other `multipart/report`.
    DeliveryReport,
    /// Sent from our own address: answering it would loop.
    OwnAddress,
    /// From `mailer-daemon@` or `postmaster@`.
    MailerDaemon,
    /// `Return-Path: <>`: RFC 3834 §2 says never to answer these.
    NullReturnPath,
    /// `Auto-Submitted` other than `no`, `X-Autoreply`/`X-Autorespond`, or
    /// `X-Auto-Response-Suppress` asking not to be auto-answered.
    AutoReplied,
    /// `List-Id` or `Precedence: list`.
    List,
    /// `Precedence: bulk|junk`, or a newsletter's `List-Unsubscribe` without `List-Id`.
    Bulk,
}

impl Automatic {
    pub fn is_automatic(self) -> bool {
        self != Automatic::No
    }

    /// A stable name for logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Automatic::No => "no",
            Automatic::DeliveryReport => "delivery_report",
            Automatic::OwnAddress => "own_address",
            Automatic::MailerDaemon => "mailer_daemon",
            Automatic::NullReturnPath => "null_return_path",
            Automatic::AutoReplied => "auto_replied",
            Automatic::List => "list",
            Automatic::Bulk => "bulk",
        }
    }
}

/// Classifies a mail from its header facts, its `From` address, whether its return path is
/// null (`<>`), and our own address (the centre's reply address).
pub fn classify(
    facts: &HeaderFacts,
    from: Option<&str>,
    return_path_null: bool,
    own_address: &str,
) -> Automatic {
    let from = from.map(str::trim).filter(|f| !f.is_empty());
    if facts.content_type_report {
        return Automatic::DeliveryReport;
    }
    if let Some(from) = from {
        let own = own_address.trim();
        if !own.is_empty() && from.eq_ignore_ascii_case(own) {
            return Automatic::OwnAddress;
        }
        // "MAILER-DAEMON" alone (no domain) is how some MTAs sign their bounces.
        let local = from.rsplit_once('@').map_or(from, |(local, _)| local);
        if local.eq_ignore_ascii_case("mailer-daemon") || local.eq_ignore_ascii_case("postmaster") {
            return Automatic::MailerDaemon;
        }
    }
    if return_path_null {
        return Automatic::NullReturnPath;
    }
    if facts
        .auto_submitted
        .as_deref()
        .and_then(first_token)
        .is_some_and(|t| !t.eq_ignore_ascii_case("no"))
        || facts.auto_reply_headers
        || facts
            .x_auto_response_suppress
            .as_deref()
            .is_some_and(suppresses_auto_replies)
    {
        return Automatic::AutoReplied;
    }
    let precedence = facts.precedence.as_deref().and_then(first_token);
    if facts.list_id || precedence.is_some_and(|p| p.eq_ignore_ascii_case("list")) {
        return Automatic::List;
    }
    if precedence.is_some_and(|p| p.eq_ignore_ascii_case("bulk") || p.eq_ignore_ascii_case("junk"))
        || facts.list_unsubscribe
    {
        return Automatic::Bulk;
    }
    Automatic::No
}

/// The keyword of a field such as `auto-replied; owner-email="x@y"` or `bulk (newsletter)`.
fn first_token(value: &str) -> Option<&str> {
    value
        .split([';', '(', ' ', '\t'])
        .next()
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Microsoft's list of responses the sender does not want; only the ones that cover an
/// acknowledgement count (`DR`, `NDR`, `RN`, `NRN` concern receipts, not replies).
fn suppresses_auto_replies(value: &str) -> bool {
    value.split([',', ' ', '\t']).any(|t| {
        let t = t.trim();
        t.eq_ignore_ascii_case("all")
            || t.eq_ignore_ascii_case("oof")
            || t.eq_ignore_ascii_case("autoreply")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "soudan@example.org";

    fn human(facts: HeaderFacts) -> Automatic {
        classify(&facts, Some("hanako@example.jp"), false, OWN)
    }

    #[test]
    fn plain_mail_from_a_person_is_not_automatic() {
        assert_eq!(human(HeaderFacts::default()), Automatic::No);
        assert!(!Automatic::No.is_automatic());
        assert_eq!(
            classify(&HeaderFacts::default(), None, false, OWN),
            Automatic::No
        );
    }

    #[test]
    fn auto_submitted_no_is_a_person() {
        for v in ["no", "No", " no ", "no (sent by hand)"] {
            let facts = HeaderFacts {
                auto_submitted: Some(v.into()),
                ..Default::default()
            };
            assert_eq!(human(facts), Automatic::No, "{v}");
        }
        let empty = HeaderFacts {
            auto_submitted: Some("  ".into()),
            ..Default::default()
        };
        assert_eq!(human(empty), Automatic::No, "an empty field says nothing");
    }

    #[test]
    fn auto_submitted_other_than_no_is_automatic() {
        for v in [
            "auto-replied",
            "Auto-Generated",
            "auto-notified; owner-email=\"a@b\"",
            "auto-replied (vacation)",
        ] {
            let facts = HeaderFacts {
                auto_submitted: Some(v.into()),
                ..Default::default()
            };
            assert_eq!(human(facts), Automatic::AutoReplied, "{v}");
        }
    }

    #[test]
    fn autoreply_headers_and_suppression_are_automatic() {
        let facts = HeaderFacts {
            auto_reply_headers: true,
            ..Default::default()
        };
        assert_eq!(human(facts), Automatic::AutoReplied);
        for v in ["All", "OOF", "DR, OOF", "AutoReply", "oof,autoreply"] {
            let facts = HeaderFacts {
                x_auto_response_suppress: Some(v.into()),
                ..Default::default()
            };
            assert_eq!(human(facts), Automatic::AutoReplied, "{v}");
        }
        for v in ["DR", "NDR, RN, NRN", ""] {
            let facts = HeaderFacts {
                x_auto_response_suppress: Some(v.into()),
                ..Default::default()
            };
            assert_eq!(
                human(facts),
                Automatic::No,
                "{v} asks nothing about replies"
            );
        }
    }

    #[test]
    fn precedence_values() {
        let with = |p: &str| HeaderFacts {
            precedence: Some(p.into()),
            ..Default::default()
        };
        assert_eq!(human(with("bulk")), Automatic::Bulk);
        assert_eq!(human(with("JUNK")), Automatic::Bulk);
        assert_eq!(human(with("list")), Automatic::List);
        assert_eq!(human(with("first-class")), Automatic::No);
        assert_eq!(human(with("bulky")), Automatic::No, "whole words only");
    }

    #[test]
    fn list_headers() {
        let list = HeaderFacts {
            list_id: true,
            list_unsubscribe: true,
            ..Default::default()
        };
        assert_eq!(human(list), Automatic::List);
        let newsletter = HeaderFacts {
            list_unsubscribe: true,
            ..Default::default()
        };
        assert_eq!(human(newsletter), Automatic::Bulk);
    }

    #[test]
    fn senders_that_are_machines_or_ourselves() {
        let none = HeaderFacts::default();
        for from in [
            "MAILER-DAEMON@mx.example.jp",
            "postmaster@example.jp",
            "Mailer-Daemon",
        ] {
            assert_eq!(
                classify(&none, Some(from), false, OWN),
                Automatic::MailerDaemon,
                "{from}"
            );
        }
        assert_eq!(
            classify(&none, Some("postmaster-fan@example.jp"), false, OWN),
            Automatic::No
        );
        assert_eq!(
            classify(&none, Some("Soudan@Example.ORG"), false, OWN),
            Automatic::OwnAddress
        );
        assert_eq!(
            classify(&none, Some("soudan@example.org.evil"), false, OWN),
            Automatic::No
        );
        assert_eq!(
            classify(&none, Some(""), false, ""),
            Automatic::No,
            "empty is never 'own'"
        );
        assert_eq!(
            classify(&none, Some("a@b.jp"), true, OWN),
            Automatic::NullReturnPath
        );
    }

    #[test]
    fn the_most_telling_reason_wins() {
        let all = HeaderFacts {
            auto_submitted: Some("auto-replied".into()),
            precedence: Some("bulk".into()),
            list_id: true,
            list_unsubscribe: true,
            x_auto_response_suppress: Some("All".into()),
            auto_reply_headers: true,
            content_type_report: true,
        };
        assert_eq!(
            classify(&all, Some("mailer-daemon@x"), true, OWN),
            Automatic::DeliveryReport
        );
        let no_report = HeaderFacts {
            content_type_report: false,
            ..all.clone()
        };
        assert_eq!(
            classify(&no_report, Some(OWN), true, OWN),
            Automatic::OwnAddress
        );
        assert_eq!(
            classify(&no_report, Some("mailer-daemon@x"), true, OWN),
            Automatic::MailerDaemon
        );
        assert_eq!(
            classify(&no_report, Some("a@b"), true, OWN),
            Automatic::NullReturnPath
        );
        assert_eq!(
            classify(&no_report, Some("a@b"), false, OWN),
            Automatic::AutoReplied
        );
        let list = HeaderFacts {
            precedence: Some("bulk".into()),
            list_id: true,
            ..Default::default()
        };
        assert_eq!(human(list), Automatic::List);
    }

    #[test]
    fn names_are_stable() {
        let all = [
            Automatic::No,
            Automatic::DeliveryReport,
            Automatic::OwnAddress,
            Automatic::MailerDaemon,
            Automatic::NullReturnPath,
            Automatic::AutoReplied,
            Automatic::List,
            Automatic::Bulk,
        ];
        let names: Vec<_> = all.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "no",
                "delivery_report",
                "own_address",
                "mailer_daemon",
                "null_return_path",
                "auto_replied",
                "list",
                "bulk"
            ]
        );
        assert!(all[1..].iter().all(|a| a.is_automatic()));
    }
}
