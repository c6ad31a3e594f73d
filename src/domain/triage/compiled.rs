//! What the phrase lists become once expanded and indexed: the entries, their text and the
//! tries. Its own room because both the expansion (`phrases.rs`) and the build-time index
//! (`frozen.rs`) make it, and neither should have to import the other for it.

use super::Category;
use super::table::{Row, Table, word};
use super::trie::Trie;

/// No follower, no combination (a frozen entry's word).
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) category: Category,
    pub(super) exclusion: bool,
    /// Where the phrase, in normalised form, is in [`Compiled::text`].
    pub(super) phrase: (u32, u32),
    /// The phrase speaks in someone's own voice (a wish or an intention): news or fiction
    /// context never clears it, since 「ニュースで見て死にたくなった」 is about the writer.
    pub(super) own_voice: bool,
    /// An ASCII letter or digit at an edge must not continue a longer ASCII word.
    pub(super) ascii_start: bool,
    pub(super) ascii_end: bool,
    /// For an `A … B` line, the index in [`Compiled::followers`] of B's phrases: the match
    /// only counts if one of them begins soon after A, in the same sentence.
    pub(super) then: Option<usize>,
    /// For a part of an `A + B` line: such a match never flags on its own; the line flags when
    /// every one of its parts is found somewhere in the message.
    pub(super) part: Option<Part>,
}

/// One part of an `A + B` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Part {
    /// Index in [`Compiled::combos`].
    pub(super) combo: usize,
    /// Which part, from 0; below `MAX_PARTS` (phrases.rs).
    pub(super) index: usize,
}

/// The lists expanded and indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Compiled {
    pub(super) entries: Table<Entry>,
    /// Every phrase of `entries`, one after the other.
    pub(super) text: String,
    pub(super) trie: Trie,
    /// The B sides of `A … B` lines, one small trie per line.
    pub(super) followers: Vec<Trie>,
    /// The `A + B` lines: category and number of parts.
    pub(super) combos: Vec<(Category, usize)>,
    /// Lines or groups cut off at `MAX_EXPANSIONS_PER_LINE` (phrases.rs).
    pub(super) truncated: usize,
}

/// A frozen entry is five words: category, flags (exclusion, own voice, ASCII start, ASCII
/// end), `then`, `part.combo` and `part.index`; the phrase's text is not kept. `frozen.rs`
/// writes them, and checks them before use unless they are the build's own.
impl Row for Entry {
    const WORDS: usize = 5;
    #[inline]
    fn read(bytes: &[u8]) -> Self {
        let flags = word(bytes, 1);
        let then = word(bytes, 2);
        let combo = word(bytes, 3);
        Entry {
            category: Category::ALL[word(bytes, 0) as usize],
            exclusion: flags & 1 != 0,
            own_voice: flags & 2 != 0,
            ascii_start: flags & 4 != 0,
            ascii_end: flags & 8 != 0,
            then: (then != NONE).then_some(then as usize),
            part: (combo != NONE).then(|| Part {
                combo: combo as usize,
                index: word(bytes, 4) as usize,
            }),
            phrase: (0, 0),
        }
    }
}
