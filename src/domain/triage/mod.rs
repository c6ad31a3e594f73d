//! Urgent-risk triage of a consultation message: does it suggest suicidal ideation, self-harm,
//! violence at home or an emergency under way?
//!
//! The desk answers mail within about ten days, so a message that needs a person *today* must be
//! noticed on arrival. This is a phrase matcher, not a classifier: it is meant to over-flag. A false
//! alarm costs staff a minute; a miss can cost a life. Every rule that clears a match (negation,
//! news context) is deliberately narrow, and anything it is unsure of stays flagged.
//!
//! How a message is read:
//! 1. It is normalised once ([`normalise`]: NFKC, katakana to hiragana, lower case, no spaces,
//!    punctuation or symbols), remembering where sentences (。！？!? and line breaks) and
//!    clauses (、，,) began.
//! 2. Every phrase of [`PhraseLists`] is looked up at once in the whole normalised text, by a
//!    trie walked from each position, so a phrase broken by a hard-wrapped line (死に / たい) is
//!    still found.
//! 3. A match that overlaps an exclusion of its own category (`!` lines, e.g. 死ぬ気で) is dropped.
//! 4. A match is cleared when, within its own sentence, it is negated (死にたい|とは思わない) or
//!    sits in a news or fiction context (自殺|のニュース). Each match is judged on its own, so
//!    「死にたいとは思わないけど、消えたい」 is still flagged by 消えたい.
//! 5. A match told as the past (昔, 以前, …ていた時期) is cleared when the message later says
//!    things are better now (今は落ち着いて…).
//!
//! Nothing here reads files or clocks; the phrase lists are plain text given by the caller or
//! compiled in by [`PhraseLists::builtin`].
//!
//! Layout: `normalise` (step 1), `phrases` (the list format, step 2, built on first use) over
//! `trie`, `rules` (negation and context, step 4), `past` (step 5), `assess` (the whole walk,
//! steps 2–5). The list format also
//! has `@name` groups, `A … B` (B soon after A in one sentence) and `A + B` (both anywhere in
//! the message, neither alone); see `config/triage/*.txt`.

use std::fmt;
use std::str::FromStr;

mod assess;
#[cfg(test)]
mod cost;
mod normalise;
mod past;
mod phrases;
mod rules;
#[cfg(test)]
mod sets;
#[cfg(test)]
mod tests;
mod trie;

pub use assess::{Assessment, assess};
pub use normalise::normalise;
pub use phrases::PhraseLists;

/// A kind of urgent risk. Ordered as declared, which is the order [`Assessment::categories`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    SuicidalIdeation,
    SelfHarm,
    ViolenceAtHome,
    Emergency,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::SuicidalIdeation,
        Category::SelfHarm,
        Category::ViolenceAtHome,
        Category::Emergency,
    ];

    /// The default phrase list shipped in `config/triage/`, compiled in.
    pub fn builtin_list(self) -> &'static str {
        match self {
            Self::SuicidalIdeation => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/triage/suicidal_ideation.txt"
            )),
            Self::SelfHarm => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/triage/self_harm.txt"
            )),
            Self::ViolenceAtHome => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/triage/violence_at_home.txt"
            )),
            Self::Emergency => include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/config/triage/emergency.txt"
            )),
        }
    }

    /// Stable name for storage, logs and the phrase-list file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::SuicidalIdeation => "suicidal_ideation",
            Category::SelfHarm => "self_harm",
            Category::ViolenceAtHome => "violence_at_home",
            Category::Emergency => "emergency",
        }
    }

    /// Label shown to staff.
    pub fn label_ja(self) -> &'static str {
        match self {
            Category::SuicidalIdeation => "希死念慮",
            Category::SelfHarm => "自傷",
            Category::ViolenceAtHome => "家庭内の暴力",
            Category::Emergency => "緊急",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A category name that is not one of [`Category::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown triage category {:?}", self.0)
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}
