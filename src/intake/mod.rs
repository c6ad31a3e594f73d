//! Mail intake: raw mail from an MTA pipe (`madoguchi ingest`) or from IMAP is parsed, and
//! what it brings (a new consultation, a follow-up, a bounce) is stored, or the mail is kept
//! in quarantine. The form and the API open consultations through `desk::consultation`
//! directly, as a first mail does.

pub mod handoff;
pub mod imap;
pub mod mail;
pub mod parse;

use crate::domain::vocabulary::{QuarantineId, TicketId};

/// What became of one mail taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new consultation.
    Opened {
        ticket_id: TicketId,
        acknowledged: bool,
    },
    /// A follow-up joined an existing consultation.
    Joined { ticket_id: TicketId },
    /// The same Message-ID was stored before: nothing written.
    Duplicate,
    /// A delivery report about one of our mails; that mail is marked failed.
    Bounce { ticket_id: Option<TicketId> },
    /// Kept raw with the reason, for a person to look at.
    Quarantined { id: QuarantineId },
}

impl Outcome {
    /// Every word [`Outcome::as_str`] gives.
    pub const WORDS: [&'static str; 5] = ["opened", "joined", "duplicate", "bounce", "quarantined"];

    /// For logs, metrics and the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Opened { .. } => "opened",
            Self::Joined { .. } => "joined",
            Self::Duplicate => "duplicate",
            Self::Bounce { .. } => "bounce",
            Self::Quarantined { .. } => "quarantined",
        }
    }

    /// The consultation it opened or joined, if any.
    pub fn ticket_id(&self) -> Option<TicketId> {
        match self {
            Self::Opened { ticket_id, .. } | Self::Joined { ticket_id } => Some(*ticket_id),
            Self::Bounce { ticket_id } => *ticket_id,
            Self::Duplicate | Self::Quarantined { .. } => None,
        }
    }

    /// Counts it and logs it, once it is committed. Ids only: never who wrote, nor what.
    pub fn record(&self, state: &crate::state::AppState, source: &str) {
        state.metrics.intake(source, self.as_str());
        tracing::info!(
            source,
            outcome = self.as_str(),
            ticket_id = self.ticket_id().map(|t| t.0),
            "mail taken"
        );
    }

    /// As [`record`](Self::record), logged only at debug: for bulk `ingest` with a person
    /// watching its progress, whose terminal a line per mail would flood.
    pub fn record_quietly(&self, state: &crate::state::AppState, source: &str) {
        state.metrics.intake(source, self.as_str());
        tracing::debug!(
            source,
            outcome = self.as_str(),
            ticket_id = self.ticket_id().map(|t| t.0),
            "mail taken"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_says_one_of_the_words() {
        let all = [
            Outcome::Opened {
                ticket_id: TicketId(1),
                acknowledged: true,
            },
            Outcome::Joined {
                ticket_id: TicketId(1),
            },
            Outcome::Duplicate,
            Outcome::Bounce { ticket_id: None },
            Outcome::Quarantined {
                id: QuarantineId(1),
            },
        ];
        let words: Vec<&str> = all.iter().map(Outcome::as_str).collect();
        assert_eq!(words, Outcome::WORDS);
    }
}
