//! The desk's words as types: what a ticket's status, a staff member's role, a consultation's
//! channel and a message's kind may be, and ids that cannot be mixed up. Each is stored as
//! the string or number it always was (`db::vocabulary` converts at the database's edge).

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    )*};
}

ids!(
    /// A consultation's ticket.
    TicketId,
    /// One message in a ticket's thread.
    MessageId,
    /// A counsellor's or supervisor's account.
    StaffId,
    /// A person who wrote to the centre, known by their address.
    ConsulterId,
    /// A staff sign-in.
    SessionId,
    /// A mail waiting to go out, or gone.
    OutboxId,
    /// A mail that could not be taken, kept raw.
    QuarantineId,
    /// A file that came with a consulter's mail.
    AttachmentId,
    /// One run of a reply clock.
    ClockId,
    /// A consulter's sign-in on their own page (/my).
    MySessionId,
);

/// A word that is not one of a vocabulary's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?} (expected one of: {})", expected.join(", "))]
pub struct UnknownWord {
    pub what: &'static str,
    pub expected: &'static [&'static str],
    pub input: String,
}

/// An enum of words, each with its one spelling: `as_str`, `FromStr`, `Display` and serde
/// all use it. For the vocabulary here, the reply clock's words, and enum-like settings.
macro_rules! words {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $word:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),*
        }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),*
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::vocabulary::UnknownWord;

            fn from_str(s: &str) -> Result<Self, $crate::domain::vocabulary::UnknownWord> {
                match s {
                    $($word => Ok(Self::$variant),)*
                    _ => Err($crate::domain::vocabulary::UnknownWord {
                        what: $what,
                        expected: &[$($word),*],
                        input: s.to_string(),
                    }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use words;

words!(
    /// Where a ticket stands.
    Status, "status" {
        /// Nobody has answered yet.
        New = "new",
        /// The consulter wrote again after an answer.
        Open = "open",
        /// Answered; waiting on the consulter.
        Waiting = "waiting",
        Closed = "closed",
    }
);

words!(
    /// What a staff member may do.
    Role, "role" {
        Counsellor = "counsellor",
        /// Also reports, staff accounts, quarantine and the audit trail.
        Supervisor = "supervisor",
    }
);

words!(
    /// How a consultation came in.
    Channel, "channel" {
        /// The form or `POST /api/v1/consultations`.
        WebForm = "web_form",
        Email = "email",
    }
);

words!(
    /// What a message in a thread is.
    MessageKind, "message kind" {
        /// The consulter's, from the form or by mail.
        Inbound = "inbound",
        /// Mail we sent: acknowledgements and staff replies.
        Outbound = "outbound",
        /// Internal; never mailed.
        Note = "note",
    }
);

words!(
    /// Where an outgoing mail stands.
    DeliveryStatus, "delivery status" {
        Queued = "queued",
        Sent = "sent",
        /// Refused for good, given up, bounced, or never made.
        Failed = "failed",
        /// A staff reply held for a supervisor's review: not in the outbox at all yet
        /// (a message's state only; the outbox never holds this word).
        AwaitingReview = "awaiting_review",
    }
);

words!(
    /// Where a reply held for review stands (CONTRACT §8).
    ReviewStatus, "review status" {
        /// Written, not mailed: a supervisor has to approve it.
        AwaitingReview = "awaiting_review",
        /// Sent back to its author with a comment; nothing was mailed.
        Returned = "returned",
        /// Approved (as written or edited) and queued as a direct reply is.
        Approved = "approved",
    }
);

words!(
    /// Why a reply was held for review.
    HoldReason, "hold reason" {
        /// Its author's replies are reviewed (`staff.review_replies`).
        Counsellor = "counsellor",
        /// It answers an urgent ticket and `review.urgent_tickets` is on.
        Urgent = "urgent",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(*r));
        }
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(*c));
        }
        for k in MessageKind::ALL {
            assert_eq!(k.as_str().parse::<MessageKind>(), Ok(*k));
        }
        for d in DeliveryStatus::ALL {
            assert_eq!(d.as_str().parse::<DeliveryStatus>(), Ok(*d));
        }
        for r in ReviewStatus::ALL {
            assert_eq!(r.as_str().parse::<ReviewStatus>(), Ok(*r));
        }
        assert_eq!(
            "Closed".parse::<Status>().unwrap_err().to_string(),
            "unknown status \"Closed\" (expected one of: new, open, waiting, closed)"
        );
        assert_eq!(
            serde_json::to_string(&Channel::WebForm).unwrap(),
            "\"web_form\""
        );
        assert_eq!(serde_json::to_string(&TicketId(7)).unwrap(), "7");
    }
}
