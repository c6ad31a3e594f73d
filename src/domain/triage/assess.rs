//! The assessment of one message: scan, drop excluded matches, clear negated or reported ones.

use super::Category;
use super::compiled::{Compiled, Part};
use super::normalise::Document;
use super::past::{last_better_now, told_as_past};
use super::phrases::PhraseLists;
use super::rules::{RULES, in_media_context, is_negated};

/// The outcome of [`assess`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Categories found, sorted and without duplicates; empty when nothing was found.
    pub categories: Vec<Category>,
}

impl Assessment {
    /// Whether staff should read the message now rather than in turn.
    pub fn is_urgent(&self) -> bool {
        !self.categories.is_empty()
    }

    pub fn has(&self, category: Category) -> bool {
        self.categories.contains(&category)
    }
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    entry: usize,
}

/// The exclusion spans of each category, in start order, with the furthest end reached so far:
/// whether a hit overlaps one is a binary search, not a walk over every exclusion (a long
/// message full of exclusions and hits was quadratic).
struct Exclusions {
    /// Per category (in [`Category::ALL`] order): (start, furthest end of this or any earlier).
    spans: [Vec<(usize, usize)>; 4],
}

impl Exclusions {
    /// `hits` must be in start order, as the scan finds them.
    fn new(lists: &Compiled, hits: &[Hit]) -> Self {
        let mut spans: [Vec<(usize, usize)>; 4] = Default::default();
        for x in hits {
            let list = &mut spans[lists.entries.get(x.entry).category as usize];
            let furthest = list.last().map_or(x.end, |&(_, e)| e.max(x.end));
            list.push((x.start, furthest));
        }
        Exclusions { spans }
    }

    /// Whether an exclusion of `category` overlaps `hit`: one that starts before the hit ends
    /// and ends after it starts.
    fn overlaps(&self, category: Category, hit: &Hit) -> bool {
        let list = &self.spans[category as usize];
        match list.partition_point(|&(start, _)| start < hit.end) {
            0 => false,
            i => list[i - 1].1 > hit.start,
        }
    }
}

/// Records a part of an `A + B` line as found: (combination, one bit per part).
fn add_part(found: &mut Vec<(usize, u8)>, part: Part) {
    let bit = 1u8 << part.index;
    match found.iter_mut().find(|(c, _)| *c == part.combo) {
        Some((_, bits)) => *bits |= bit,
        None => found.push((part.combo, bit)),
    }
}

/// Whether every part of combination `combo` is in `found`.
fn combo_complete(lists: &Compiled, found: &[(usize, u8)], combo: usize) -> bool {
    let parts = lists.combos[combo].1;
    found
        .iter()
        .any(|&(c, bits)| c == combo && bits.count_ones() as usize == parts)
}

/// Finds the urgent-risk categories in a consultation message. Pure and linear in the length of
/// the text (one trie walk per character; negation and context checks only run on matches).
pub fn assess(text: &str, lists: &PhraseLists) -> Assessment {
    let lists = lists.compiled();
    let doc = Document::new(text);
    let norm = doc.text.as_str();
    let bytes = norm.as_bytes();
    let mut positives = Vec::new();
    let mut exclusions = Vec::new();
    for (start, _) in norm.char_indices() {
        lists.trie.matches_at(norm, start, |end, entry| {
            let e = lists.entries.get(entry);
            let continues_word =
                (e.ascii_start && start > 0 && bytes[start - 1].is_ascii_alphanumeric())
                    || (e.ascii_end && bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()));
            if continues_word {
                return;
            }
            // `A … B`: the hit runs on to the end of B, which must follow in the same sentence.
            let end = match e.then {
                None => end,
                Some(follower) => {
                    let sentence_end = Document::end_after(&doc.sentence_starts, end, norm.len());
                    let furthest = e.exclusion;
                    match lists.followers[follower].end_after(norm, end, sentence_end, furthest) {
                        Some(b_end) => b_end,
                        None => return,
                    }
                }
            };
            let hit = Hit { start, end, entry };
            if e.exclusion {
                exclusions.push(hit);
            } else {
                positives.push(hit);
            }
        });
    }

    let excluded = Exclusions::new(lists, &exclusions);
    positives.retain(|p| !excluded.overlaps(lists.entries.get(p.entry).category, p));
    // A part of an `A + B` line is only worth judging when every part of it was found: parts
    // are common words (連絡が取れない), and judging is the costly step.
    let mut parts_seen: Vec<(usize, u8)> = Vec::new();
    for p in &positives {
        if let Some(part) = lists.entries.get(p.entry).part {
            add_part(&mut parts_seen, part);
        }
    }
    positives.retain(|p| {
        lists
            .entries
            .get(p.entry)
            .part
            .is_none_or(|part| combo_complete(lists, &parts_seen, part.combo))
    });
    if positives.is_empty() {
        return Assessment::default();
    }

    // Already in start order from the scan. A negation after a match only counts up to the next
    // match, so in 「消えたいし死にたいとは思わない」 the denial belongs to 死にたい alone.
    let mut ends: Vec<usize> = positives.iter().map(|p| p.end).collect();
    ends.sort_unstable();
    let rules = &*RULES;
    let mut categories: Vec<Category> = Vec::new();
    // Parts of `A + B` lines found and not cleared: (combination, bit per part).
    let mut parts_found: Vec<(usize, u8)> = Vec::new();
    // Where the message last says things are better now; looked for once, on the first match.
    let mut better_now: Option<Option<usize>> = None;
    for p in &positives {
        let entry = &lists.entries.get(p.entry);
        if categories.contains(&entry.category) {
            continue;
        }
        let sentence_end = Document::end_after(&doc.sentence_starts, p.end, norm.len());
        let next_start = positives[positives.partition_point(|q| q.start < p.end)..]
            .first()
            .map_or(norm.len(), |q| q.start);
        let tail = &norm[p.end..sentence_end.min(next_start)];
        if is_negated(tail, rules) {
            continue;
        }
        let clause_start = Document::start_before(&doc.clause_starts, p.start);
        let clause_end = Document::end_after(&doc.clause_starts, p.end, norm.len());
        let previous_end = match ends.partition_point(|&e| e <= p.start) {
            0 => 0,
            i => ends[i - 1],
        };
        let before = &norm[clause_start.max(previous_end).min(p.start)..p.start];
        let after = &norm[p.end..clause_end.max(p.end)];
        if in_media_context(entry, before, after, rules) {
            continue;
        }
        let better = *better_now.get_or_insert_with(|| last_better_now(norm));
        if better.is_some_and(|b| b >= p.end) {
            let sentence_start = Document::start_before(&doc.sentence_starts, p.start);
            if told_as_past(
                &norm[sentence_start.min(p.start)..p.start],
                &norm[p.end..sentence_end.max(p.end)],
            ) {
                continue;
            }
        }
        match entry.part {
            None => categories.push(entry.category),
            Some(part) => add_part(&mut parts_found, part),
        }
    }
    for &(combo, _) in &parts_found {
        if combo_complete(lists, &parts_found, combo) {
            categories.push(lists.combos[combo].0);
        }
    }
    categories.sort_unstable();
    categories.dedup();
    Assessment { categories }
}
