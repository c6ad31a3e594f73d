//! A second, generalising signal beside the phrase lists: a naive Bayes score over the
//! character 2- and 3-grams of the normalised message, trained on the labelled sets.
//!
//! Phrase lists tuned by one hand missed a third of another writer's wording (issue 10, point
//! 22); n-grams carry what the kinds share (薬…ため, 手すり, ありがとう…既読) without anyone
//! having to list every way of saying them. The build script trains it on [`TRAINING_SETS`] and
//! writes the weights next to the phrase index (`build.rs`, `offline.rs`); the binary reads them
//! in place, one binary search per n-gram of the message. Nothing here reads files: training
//! takes the sets' text from its caller.
//!
//! A message's score per class is `(ln prior + Σ weight of each distinct n-gram) / √n` (n the
//! number of distinct n-grams, so that a long message does not score high by length alone), with
//! `weight = ln P(gram | class) − ln P(gram | not class)` (presence, smoothing 0.5).

use std::borrow::Cow;
use std::collections::HashMap;

use super::Category;
use super::normalise::Document;
use super::table::{Row, Table, Words, word};

/// The labelled sets the shipped model is trained on, in `tests/data/triage/`. A set not named
/// here is held out (see `sets.rs`): add a new one here only once it has been scored and spent.
#[cfg_attr(not(test), allow(dead_code))]
pub const TRAINING_SETS: &[&str] = &[
    "labelled.tsv",
    "kinds.tsv",
    "kinds2.tsv",
    "kinds3.tsv",
    "fresh.tsv",
    "fresh2.tsv",
    "fresh3.tsv",
    "fresh4.tsv",
    "fresh5.tsv",
    "fresh6.tsv",
    "fresh7.tsv",
    "fresh8.tsv",
    "kinds4.tsv",
    "fresh9.tsv",
    "fresh10.tsv",
    "kinds5.tsv",
    "fresh11.tsv",
    "fresh12.tsv",
    "fresh13.tsv",
    "fresh14.tsv",
    "kinds6.tsv",
];

/// Classes scored: any category at all (index 0), then each of [`Category::ALL`].
pub(super) const CLASSES: usize = 5;
const SMOOTHING: f64 = 0.5;
const MAGIC: u32 = 0x5452_4e32; // "TRN2"

/// The grams are indexed by their first character, for first characters in the Basic
/// Multilingual Plane: `FIRST + 1` words, the place of the first gram whose first character is
/// that one or later. A message's n-gram is then looked for among the few that share its first
/// character (256 KiB in the binary, read in place like the grams).
const FIRST: usize = 0x1_0000;

/// One n-gram and its weight per class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Gram {
    key: u64,
    weights: [f32; CLASSES],
}

impl Row for Gram {
    const WORDS: usize = 2 + CLASSES;
    #[inline]
    fn read(bytes: &[u8]) -> Self {
        let key = u64::from(word(bytes, 0)) | u64::from(word(bytes, 1)) << 32;
        let mut weights = [0.0; CLASSES];
        for (i, w) in weights.iter_mut().enumerate() {
            *w = f32::from_bits(word(bytes, 2 + i));
        }
        Gram { key, weights }
    }
}

impl Words for Gram {
    fn word(&self, w: usize) -> u32 {
        match w {
            0 => self.key as u32,
            1 => (self.key >> 32) as u32,
            _ => self.weights[w - 2].to_bits(),
        }
    }
}

/// The weights, sorted by key.
#[derive(Debug, Clone, Default)]
pub(super) struct Model {
    priors: [f32; CLASSES],
    grams: Table<Gram>,
    /// `(FIRST + 1) * 4` bytes (see [`FIRST`]), or none: then every gram is searched.
    first: Cow<'static, [u8]>,
}

/// The distinct 2- and 3-grams of a message, sorted: three characters of at most 21 bits each
/// make one key (a 2-gram has a zero third character). None spans a sentence break. Also the
/// number of characters of the normalised message.
pub(super) fn grams(text: &str) -> (Vec<u64>, usize) {
    let doc = Document::new(text);
    grams_masked(&doc.text, &doc.sentence_starts, &[])
}

/// [`grams`] of a normalised text with its sentence starts, leaving out every character inside
/// a `masked` byte range (no n-gram reaches across one either).
pub(super) fn grams_masked(
    norm: &str,
    sentence_starts: &[usize],
    masked: &[(usize, usize)],
) -> (Vec<u64>, usize) {
    // About two keys a character: a character is one to three bytes here.
    let mut keys = Vec::with_capacity(norm.len());
    let mut window: [u64; 3] = [0; 3];
    let mut filled = 0;
    let mut next_break = sentence_starts.iter().peekable();
    // In start order, walked once alongside the text.
    let mut masked = masked.to_vec();
    masked.sort_unstable();
    let mut next_mask = 0;
    let mut chars = 0;
    for (at, c) in norm.char_indices() {
        chars += 1;
        while next_break.peek().is_some_and(|&&b| b <= at) {
            next_break.next();
            // A break before this character: start a new window (also at the same offset).
            filled = 0;
        }
        while masked.get(next_mask).is_some_and(|&(_, to)| to <= at) {
            next_mask += 1;
        }
        // Ranges may overlap: any one that has begun and not ended hides this character.
        if masked[next_mask..]
            .iter()
            .take_while(|&&(from, _)| from <= at)
            .any(|&(_, to)| at < to)
        {
            filled = 0;
            continue;
        }
        window = [window[1], window[2], u64::from(c)];
        filled += 1;
        if filled >= 2 {
            keys.push(window[1] << 42 | window[2] << 21);
        }
        if filled >= 3 {
            keys.push(window[0] << 42 | window[1] << 21 | window[2]);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    (keys, chars)
}

/// The index of [`FIRST`] over `grams` (sorted by key), as little-endian words.
fn first_index(grams: &[Gram]) -> Vec<u8> {
    let mut out = Vec::with_capacity((FIRST + 1) * 4);
    let mut at = 0;
    for c in 0..=FIRST as u64 {
        while grams.get(at).is_some_and(|g| g.key < c << 42) {
            at += 1;
        }
        out.extend_from_slice(&u32::try_from(at).unwrap_or(u32::MAX).to_le_bytes());
    }
    out
}

/// Whether row `labels` belongs to class `class` (0: any category).
fn in_class(labels: &[Category], class: usize) -> bool {
    match class {
        0 => !labels.is_empty(),
        c => labels.contains(&Category::ALL[c - 1]),
    }
}

impl Model {
    /// Trains on `rows` (text, categories; none for a message that needs no flag). Used by the
    /// build script and the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn train<'a>(rows: impl IntoIterator<Item = (&'a str, &'a [Category])>) -> Self {
        // Per n-gram: rows holding it, then rows of each class holding it.
        let mut counts: HashMap<u64, [u32; CLASSES + 1]> = HashMap::new();
        let mut total = 0u32;
        let mut positives = [0u32; CLASSES];
        for (text, labels) in rows {
            total += 1;
            let member: Vec<bool> = (0..CLASSES).map(|c| in_class(labels, c)).collect();
            for (c, &m) in member.iter().enumerate() {
                positives[c] += u32::from(m);
            }
            for key in grams(text).0 {
                let n = counts.entry(key).or_default();
                n[0] += 1;
                for (c, &m) in member.iter().enumerate() {
                    n[c + 1] += u32::from(m);
                }
            }
        }
        let mut priors = [0.0; CLASSES];
        for (c, p) in priors.iter_mut().enumerate() {
            let pos = f64::from(positives[c]) + SMOOTHING;
            let neg = f64::from(total - positives[c]) + SMOOTHING;
            *p = (pos / neg).ln() as f32;
        }
        let mut grams: Vec<Gram> = counts
            .into_iter()
            .map(|(key, n)| {
                let mut weights = [0.0; CLASSES];
                for (c, w) in weights.iter_mut().enumerate() {
                    let pos_rows = f64::from(positives[c]);
                    let neg_rows = f64::from(total - positives[c]);
                    let pos = f64::from(n[c + 1]);
                    let neg = f64::from(n[0] - n[c + 1]);
                    let p = (pos + SMOOTHING) / (pos_rows + 2.0 * SMOOTHING);
                    let q = (neg + SMOOTHING) / (neg_rows + 2.0 * SMOOTHING);
                    *w = (p / q).ln() as f32;
                }
                Gram { key, weights }
            })
            .collect();
        grams.sort_unstable_by_key(|g| g.key);
        Model {
            priors,
            first: Cow::Owned(first_index(&grams)),
            grams: Table::Built(grams),
        }
    }

    /// The score of `text` per class (index 0: any category; then [`Category::ALL`]'s order),
    /// and the length of the normalised text in characters.
    pub(super) fn scores(&self, text: &str) -> ([f32; CLASSES], usize) {
        self.score_keys(grams(text))
    }

    /// [`Model::scores`] of a normalised text, with the `masked` byte ranges left out.
    pub(super) fn scores_masked(
        &self,
        norm: &str,
        sentence_starts: &[usize],
        masked: &[(usize, usize)],
    ) -> ([f32; CLASSES], usize) {
        self.score_keys(grams_masked(norm, sentence_starts, masked))
    }

    /// `keys` must be sorted (as [`grams_masked`] makes them): each is looked for among the
    /// grams of its first character, from where the last one was, galloping ahead before the
    /// binary search; only keys are read until one matches.
    fn score_keys(&self, (keys, chars): (Vec<u64>, usize)) -> ([f32; CLASSES], usize) {
        let mut sums = self.priors;
        let len = self.grams.len();
        let mut from = 0;
        for &key in &keys {
            let (start, end) = self.bucket(key).unwrap_or((0, len));
            let at = self.lower_bound(key, from.max(start).min(end), end);
            from = at;
            if at < end && self.key(at) == key {
                for (s, w) in sums.iter_mut().zip(self.grams.get(at).weights) {
                    *s += w;
                }
                from = at + 1;
            }
        }
        let n = (keys.len().max(1) as f32).sqrt();
        (sums.map(|s| s / n), chars)
    }

    fn key(&self, i: usize) -> u64 {
        u64::from(self.grams.word(i, 0)) | u64::from(self.grams.word(i, 1)) << 32
    }

    /// Where the grams sharing `key`'s first character lie, if the index knows.
    fn bucket(&self, key: u64) -> Option<(usize, usize)> {
        let c = usize::try_from(key >> 42).ok()?;
        if c >= FIRST || self.first.len() != (FIRST + 1) * 4 {
            return None;
        }
        let len = self.grams.len();
        let end = (word(&self.first, c + 1) as usize).min(len);
        Some(((word(&self.first, c) as usize).min(end), end))
    }

    /// The first gram in `[from, end)` whose key is not below `key` (or `end`), every gram
    /// before `from` being below it.
    fn lower_bound(&self, key: u64, from: usize, end: usize) -> usize {
        let (mut lo, mut hi, mut step) = (from, from, 1);
        while hi < end && self.key(hi) < key {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let mut hi = hi.min(end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.key(mid) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The model as bytes for [`Model::frozen`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + (FIRST + 1) * 4 + self.grams.len() * Gram::WORDS * 4);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        for p in self.priors {
            out.extend_from_slice(&p.to_bits().to_le_bytes());
        }
        let grams: Vec<Gram> = self.grams.iter().collect();
        out.extend_from_slice(&first_index(&grams));
        for g in &grams {
            out.extend_from_slice(&g.key.to_le_bytes());
            for w in g.weights {
                out.extend_from_slice(&w.to_bits().to_le_bytes());
            }
        }
        out
    }

    /// What [`Model::encode`] wrote, used in place; `None` for anything else (another
    /// format, a cut row), and then no model is used. Neither the order of the keys nor the
    /// index is checked here (each process would read all of it): the build checks both
    /// ([`Model::is_sorted`], [`Model::is_indexed`]), and a wrong index only misses grams.
    pub(super) fn frozen(bytes: &'static [u8]) -> Option<Self> {
        let head = 4 * (1 + CLASSES);
        let index = head + (FIRST + 1) * 4;
        if bytes.len() < index || word(bytes, 0) != MAGIC {
            return None;
        }
        let mut priors = [0.0; CLASSES];
        for (i, p) in priors.iter_mut().enumerate() {
            *p = f32::from_bits(word(bytes, 1 + i));
        }
        let grams = Table::<Gram>::frozen(Cow::Borrowed(&bytes[index..]))?;
        Some(Model {
            priors,
            grams,
            first: Cow::Borrowed(&bytes[head..index]),
        })
    }

    /// Whether the first-character index says where each character's grams begin.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn is_indexed(&self) -> bool {
        let grams: Vec<Gram> = self.grams.iter().collect();
        *self.first == first_index(&grams)[..]
    }

    /// Whether the keys are in strictly ascending order, as the search needs.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn is_sorted(&self) -> bool {
        let mut last = None;
        self.grams.iter().all(|g| {
            let ok = last.is_none_or(|k| k < g.key);
            last = Some(g.key);
            ok
        })
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn len(&self) -> usize {
        self.grams.len()
    }
}

/// `text<TAB>labels` rows of a labelled set (see `tests/data/triage/README.md`): `#` lines,
/// blank lines and the header are skipped, and so is a row that does not read (no tab, an
/// unknown category); the tests in `sets.rs` read the sets strictly. Used by the build script.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn labelled_rows(tsv: &str) -> Vec<(&str, Vec<Category>)> {
    tsv.lines()
        .filter(|l| !(l.is_empty() || l.starts_with('#') || *l == "text\tlabels"))
        .filter_map(|l| {
            let (text, labels) = l.split_once('\t')?;
            let labels: Vec<Category> = if labels.trim() == "none" {
                Vec::new()
            } else {
                labels
                    .split(',')
                    .map(|s| s.trim().parse().ok())
                    .collect::<Option<_>>()?
            };
            Some((text, labels))
        })
        .collect()
}

#[cfg(test)]
mod tests;
