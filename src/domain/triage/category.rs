//! The categories of urgent risk, and the phrase list shipped for each. Its own file because the
//! build script reads it too (see `frozen.rs`).

use std::fmt;
use std::str::FromStr;

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
