//! Everything that becomes a consultation: the web form, the public API, and mail (from an
//! MTA pipe through `madoguchi ingest`, or from IMAP), all stored the same way.

pub mod imap;
pub mod mail;
pub mod parse;
pub mod web;

/// What became of one mail taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new consultation.
    Opened { ticket_id: i64, acknowledged: bool },
    /// A follow-up joined an existing consultation.
    Joined { ticket_id: i64 },
    /// The same Message-ID was stored before: nothing written.
    Duplicate,
    /// A delivery report about one of our mails; that mail is marked failed.
    Bounce { ticket_id: Option<i64> },
    /// Kept raw with the reason, for a person to look at.
    Quarantined { id: i64 },
}

impl Outcome {
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
}
