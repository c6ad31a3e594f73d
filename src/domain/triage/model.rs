//! A second, generalising signal beside the phrase lists: a naive Bayes score over the
//! character 2- and 3-grams of the normalised message, trained on the labelled sets.
//!
//! Phrase lists tuned by one hand missed a third of another writer's wording (issue 10, point
//! 22); n-grams carry what the kinds share (薬…ため, 手すり, ありがとう…既読) without anyone
//! having to list every way of saying them. The build script trains it on [`TRAINING_SETS`] and
//! writes the weights next to the phrase index (`build.rs`, `offline.rs`); the binary reads them
//! in place, one hashed look-up per n-gram of the message. Nothing here reads files: training
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
const MAGIC: u32 = 0x5452_4e33; // "TRN3"

/// The grams are also found by hashing their key: a table of `2^bits` slots, each the place
/// of a gram plus one (0: empty), with room for twice the grams, probed linearly from the
/// key's hash. A message's n-gram is then one or two reads of memory, where a search of the
/// sorted grams (1.5 MB) was a cache miss at each step: 8–10 % of a bulk mail's CPU time.
/// The slots (512 KiB for the shipped model) are written by the build and read in place.
const MAX_SLOT_BITS: u32 = 24;

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
    /// The hash slots as little-endian words (see [`MAX_SLOT_BITS`]), a power of two of
    /// them; or none, and then the grams are searched.
    slots: Cow<'static, [u8]>,
}

/// Where `key`'s probe starts among `2^bits` slots (Fibonacci hashing: the key's characters
/// are spread over all of its bits).
#[inline]
fn home(key: u64, bits: u32) -> usize {
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
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

/// The hash slots over `grams`, as little-endian words: `2^bits` of them, at least twice
/// as many as there are grams; none for more grams than [`MAX_SLOT_BITS`] allows (they are
/// searched then).
fn hash_slots(grams: &[Gram]) -> Vec<u8> {
    let bits = (grams.len() * 2)
        .next_power_of_two()
        .trailing_zeros()
        .max(1);
    if bits > MAX_SLOT_BITS {
        return Vec::new();
    }
    let size = 1usize << bits;
    let mut slots = vec![0u32; size];
    for (i, g) in grams.iter().enumerate() {
        let mut at = home(g.key, bits);
        while slots[at] != 0 {
            at = (at + 1) & (size - 1);
        }
        slots[at] = u32::try_from(i + 1).unwrap_or(u32::MAX);
    }
    slots.iter().flat_map(|s| s.to_le_bytes()).collect()
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
            slots: Cow::Owned(hash_slots(&grams)),
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

    /// Each of `keys` (distinct, as [`grams_masked`] makes them) found by its hash; the
    /// weights are added in the keys' order.
    fn score_keys(&self, (keys, chars): (Vec<u64>, usize)) -> ([f32; CLASSES], usize) {
        let mut sums = self.priors;
        for &key in &keys {
            if let Some(at) = self.find(key) {
                for (s, w) in sums.iter_mut().zip(self.grams.get(at).weights) {
                    *s += w;
                }
            }
        }
        let n = (keys.len().max(1) as f32).sqrt();
        (sums.map(|s| s / n), chars)
    }

    fn key(&self, i: usize) -> u64 {
        u64::from(self.grams.word(i, 0)) | u64::from(self.grams.word(i, 1)) << 32
    }

    /// The place of the gram with `key`, if there is one.
    #[inline]
    fn find(&self, key: u64) -> Option<usize> {
        let size = self.slots.len() / 4;
        let len = self.grams.len();
        if !size.is_power_of_two() || size < 2 {
            return self.search(key);
        }
        let bits = size.trailing_zeros();
        let mut at = home(key, bits);
        // At most every slot once: a table filled past its room (not one the build wrote)
        // ends the probe rather than looping.
        for _ in 0..size {
            let slot = word(&self.slots, at) as usize;
            if slot == 0 || slot > len {
                return None;
            }
            if self.key(slot - 1) == key {
                return Some(slot - 1);
            }
            at = (at + 1) & (size - 1);
        }
        None
    }

    /// [`Model::find`] without the slots: a binary search of the sorted grams.
    fn search(&self, key: u64) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.grams.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The model as bytes for [`Model::frozen`].
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn encode(&self) -> Vec<u8> {
        let grams: Vec<Gram> = self.grams.iter().collect();
        let slots = hash_slots(&grams);
        let mut out = Vec::with_capacity(28 + slots.len() + grams.len() * Gram::WORDS * 4);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        for p in self.priors {
            out.extend_from_slice(&p.to_bits().to_le_bytes());
        }
        // The slots' number as a power of two; 0 for none.
        let bits = if slots.is_empty() {
            0
        } else {
            (slots.len() / 4).trailing_zeros()
        };
        out.extend_from_slice(&bits.to_le_bytes());
        out.extend_from_slice(&slots);
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
    /// slots are checked here (each process would read all of it): the build checks both
    /// ([`Model::is_sorted`], [`Model::is_indexed`]), and wrong slots only miss grams.
    pub(super) fn frozen(bytes: &'static [u8]) -> Option<Self> {
        let head = 4 * (2 + CLASSES);
        if bytes.len() < head || word(bytes, 0) != MAGIC {
            return None;
        }
        let bits = word(bytes, 1 + CLASSES);
        if bits > MAX_SLOT_BITS {
            return None;
        }
        let index = head + if bits == 0 { 0 } else { (1usize << bits) * 4 };
        if bytes.len() < index {
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
            slots: Cow::Borrowed(&bytes[head..index]),
        })
    }

    /// Whether the hash slots are the ones [`Model::encode`] writes for these grams.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(super) fn is_indexed(&self) -> bool {
        let grams: Vec<Gram> = self.grams.iter().collect();
        *self.slots == hash_slots(&grams)[..]
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
