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
//! 6. With lists that cover every category, a character n-gram model (`model`, trained on the
//!    labelled sets at build time) joins the lists: it flags a message the lists leave unflagged
//!    when its score is high, and clears a category whose every sentence reads like a hard
//!    negative (see `assess::Blend`). Phrase lists from one hand missed a third of another
//!    writer's wording; the model carries what the kinds share.
//!
//! Nothing here reads files or clocks; the phrase lists are plain text given by the caller or
//! compiled in by [`PhraseLists::builtin`].
//!
//! Layout: `normalise` (step 1), `phrases` (the list format, step 2, built on first use) over
//! `trie`, `rules` (negation and context, step 4), `past` (step 5), `model` (step 6), `assess`
//! (the whole walk, steps 2–6). The list format also
//! has `@name` groups, `A … B` (B soon after A in one sentence) and `A + B` (both anywhere in
//! the message, neither alone); see `config/triage/*.txt`.

mod assess;
mod category;
mod compiled;
#[cfg(test)]
mod cost;
mod frozen;
#[cfg(test)]
mod joined;
mod model;
mod normalise;
mod past;
mod phrases;
mod rules;
#[cfg(test)]
mod sets;
mod table;
#[cfg(test)]
mod tests;
mod trie;

pub use assess::{Assessment, assess};
pub use category::{Category, UnknownCategory};
pub use normalise::normalise;
pub use phrases::PhraseLists;

/// The built-in lists as indexed by the build script (`build.rs`, see `frozen.rs`).
fn builtin_index() -> &'static [u8] {
    include_bytes!(concat!(env!("OUT_DIR"), "/triage_builtin.bin"))
}

/// The n-gram model trained by the build script (`build.rs`, see `model.rs`).
fn builtin_model() -> &'static [u8] {
    include_bytes!(concat!(env!("OUT_DIR"), "/triage_model.bin"))
}
