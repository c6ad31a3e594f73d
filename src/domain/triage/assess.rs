//! The assessment of one message: scan, drop excluded matches, clear negated or reported ones.

use std::sync::LazyLock;

use super::Category;
use super::compiled::{Compiled, Part};
use super::model::{CLASSES, Model};
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

/// How the lists and the n-gram model (`model.rs`) are joined; chosen by leave-one-set-out
/// (`sets.rs`), where the lists alone raised too many false alarms on another writer's text
/// (precision 0.75 on `fresh4.tsv`) and the model alone missed short messages.
#[derive(Debug, Clone, Copy)]
pub(super) struct Blend {
    /// The model flags a message the lists leave unflagged when its score is above this.
    pub(super) flags_above: f32,
    /// The model clears a category the lists found when every sentence that says it scores at
    /// or below this, or when the whole message does at or below `message_clears_at_or_below`
    /// (and every such sentence is long enough to read): far below zero, where the text reads
    /// like the hard negatives (死ぬほど笑った, ロープを買ってキャンプへ), not merely unlike
    /// the positives.
    pub(super) clears_at_or_below: f32,
    pub(super) message_clears_at_or_below: f32,
    /// A message (for a flag) or a sentence (for a clearing) shorter than this, in normalised
    /// characters, is judged by the lists alone: a few n-grams say too little (leave-one-set-out
    /// on the short `labelled.tsv` rows), and 「死にたいと言います。」 must never be cleared.
    pub(super) min_chars: usize,
    /// A message the lists leave unflagged is read for a flag from this many characters: lower
    /// than `min_chars`, as the person's own messages are short (「すいみんやく　ぜんぶのんだ」, 15
    /// characters, fresh8.tsv); a flag costs a few minutes of a counsellor, a clearing may
    /// cost a life.
    pub(super) flags_from_chars: usize,
    /// ... but a message shorter than `min_chars` is flagged only above this, higher: a few
    /// n-grams of a harmless short message (「死にたいわけでもない」) can score high.
    pub(super) short_flags_above: f32,
    /// Nor is a text longer than this read by the model: consultations are far shorter, and a
    /// hostile megabyte must stay cheap.
    pub(super) max_chars: usize,
    /// A match in someone's own voice (死にたい, 終わりにしたい) is cleared only when its
    /// sentence scores at or below this, lower still: 「以前は死にたいと言っていましたが、最近
    /// また言うようになりました」 reads much like the past told as over, and is not.
    pub(super) own_voice_clears_at_or_below: f32,
    /// A message the lists find urgent (`emergency`) and nothing else gets the category the
    /// model scores best of the other three: `suicidal_ideation` above this, ...
    pub(super) emergency_adds_above: f32,
    /// ... self-harm or violence above this.
    pub(super) emergency_adds_other_above: f32,
    /// A message the lists and its own score leave unflagged is flagged when its most urgent
    /// sentence scores above this (see `worst_sentence`); infinite: never.
    pub(super) sentence_flags_above: f32,
}

pub(super) const SHIPPED_BLEND: Blend = Blend {
    flags_above: 1.5, // 1.0 until fresh7/8: a farewell-shaped thank-you (寮に入るね) scored 1.0–1.5
    // −0.5 and −1.0 until fresh9/10: each set left out, the model cleared 52 real flags over
    // all of them (26 at −2.0, for 4 more false alarms).
    clears_at_or_below: -2.0,
    message_clears_at_or_below: -2.0,
    min_chars: 20,
    flags_from_chars: 10,
    short_flags_above: 3.0,
    max_chars: 4000,
    own_voice_clears_at_or_below: -5.0,
    emergency_adds_above: 0.0,
    emergency_adds_other_above: 8.0,
    // Left out set by set with the lists of round five: +6 caught, +3 false alarms over all
    // sets (fresh9 0.825 → 0.875, no false alarm); with this round's lists +2 / +3.
    sentence_flags_above: 3.0,
};

/// The shipped n-gram model, read in place on first use (only its head is read: a pipe process
/// touches the few rows its message looks up); `None` if its bytes do not read. Its order is
/// not walked here: the build script refuses to write a model that does not read back sorted
/// (`offline.rs`), and a test checks the shipped one.
fn builtin_model() -> Option<&'static Model> {
    static MODEL: LazyLock<Option<Model>> = LazyLock::new(|| Model::frozen(super::builtin_model()));
    MODEL.as_ref()
}

/// Finds the urgent-risk categories in a consultation message. Pure and linear in the length of
/// the text (one trie walk per character; negation and context checks only run on matches).
///
/// With lists that cover every category, the n-gram model (`model.rs`, see [`Blend`]) reads
/// the message too: a high score for a message the lists leave unflagged flags it (with the
/// category the model scores highest); a very low score for every sentence in which the lists
/// found a category clears that category.
pub fn assess(text: &str, lists: &PhraseLists) -> Assessment {
    let model = if lists.covers_every_category() {
        builtin_model()
    } else {
        None
    };
    assess_with(text, lists, model, SHIPPED_BLEND)
}

/// [`assess`] with a given model and blend (`sets.rs` measures models trained without the set
/// they score).
pub(super) fn assess_with(
    text: &str,
    lists: &PhraseLists,
    model: Option<&Model>,
    blend: Blend,
) -> Assessment {
    let mut found = find(text, lists);
    let mut categories = std::mem::take(&mut found.categories);
    let Some(model) = model else {
        return Assessment { categories };
    };
    // Whether the model may read `span` (normalised text) at all: long enough to say
    // something, short enough to cost little.
    let readable = |chars: usize| (blend.min_chars..=blend.max_chars).contains(&chars);
    if categories.is_empty() {
        let chars = found.norm.chars().count();
        // A short message whose only match the lists set aside (「死にたいとかじゃない」) leaves
        // the model nothing but the denial to read.
        let only_a_denial = chars < blend.min_chars && !found.set_aside.is_empty();
        if only_a_denial || !(blend.flags_from_chars..=blend.max_chars).contains(&chars) {
            return Assessment { categories };
        }
        let (scores, _) =
            model.scores_masked(&found.norm, &found.sentence_starts, &found.set_aside);
        let above = if chars < blend.min_chars {
            blend.short_flags_above
        } else {
            blend.flags_above
        };
        let scores = if scores[0] > above {
            Some(scores)
        } else {
            worst_sentence(&found, model, blend).filter(|s| s[0] > blend.sentence_flags_above)
        };
        if let Some(scores) = scores {
            let best = (1..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap_or(1);
            categories.push(Category::ALL[best - 1]);
        }
        return Assessment { categories };
    }
    // A category is kept when any sentence that says it is too short or too long for the model,
    // or does not read like a hard negative; and when it was said in many sentences.
    let message_low = readable(found.norm.chars().count())
        && model.scores(text).0[0] <= blend.message_clears_at_or_below;
    categories.retain(|&c| {
        let own: Vec<&(Category, usize, usize, bool)> =
            found.spans.iter().filter(|s| s.0 == c).collect();
        own.len() >= MAX_SPANS
            || own.iter().any(|&&(_, from, to, voice)| {
                let span = &found.norm[from..to];
                let chars = span.chars().count();
                if chars < blend.min_chars {
                    return true;
                }
                if voice {
                    return !(readable(chars)
                        && model.scores(span).0[0] <= blend.own_voice_clears_at_or_below);
                }
                !(message_low
                    || (readable(chars) && model.scores(span).0[0] <= blend.clears_at_or_below))
            })
    });
    // 緊急 comes with what it is urgent about: a farewell or a place that the emergency list
    // alone found (「今から鉄橋まで歩く」) gets the category the model reads best in it. An
    // unexplained collapse (倒れていて、反応がありません) scores up to about 5 for self-harm or
    // violence and keeps 緊急 alone (a wrong guess would mislead), so those two need far more
    // (pills taken: 12, screams next door: 20).
    if categories == [Category::Emergency] && readable(found.norm.chars().count()) {
        let (scores, _) =
            model.scores_masked(&found.norm, &found.sentence_starts, &found.set_aside);
        let best = (1..scores.len() - 1)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap_or(1);
        let above = if best == 1 {
            blend.emergency_adds_above
        } else {
            blend.emergency_adds_other_above
        };
        if scores[best] > above {
            categories.insert(0, Category::ALL[best - 1]);
        }
    }
    Assessment { categories }
}

/// The scores of the sentence of `found` (of at least `min_chars`) that the model reads as the
/// most urgent, with what the lists set aside still hidden; `None` for a message of one sentence.
/// A long letter written on someone's behalf says the risk in one sentence of ten, and the
/// message's score, divided by the root of its length, dilutes it (fresh9.tsv, left out: the
/// model alone caught 0.65 of it). Each character is read once more, so it stays linear.
fn worst_sentence(found: &Found, model: &Model, blend: Blend) -> Option<[f32; CLASSES]> {
    if !blend.sentence_flags_above.is_finite() || found.sentence_starts.is_empty() {
        return None;
    }
    let mut worst: Option<[f32; CLASSES]> = None;
    let mut from = 0;
    for to in found
        .sentence_starts
        .iter()
        .copied()
        .chain(std::iter::once(found.norm.len()))
    {
        let span = &found.norm[from..to];
        if span.chars().count() >= blend.min_chars {
            let masked: Vec<(usize, usize)> = found
                .set_aside
                .iter()
                .filter(|&&(a, b)| a < to && b > from)
                .map(|&(a, b)| (a.max(from) - from, b.min(to) - from))
                .collect();
            let (scores, _) = model.scores_masked(span, &[], &masked);
            if worst.is_none_or(|w| scores[0] > w[0]) {
                worst = Some(scores);
            }
        }
        from = to;
    }
    worst
}

/// What the phrase lists alone find (the sets' tests compare it with the lists and the model).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn assess_lists(text: &str, lists: &PhraseLists) -> Assessment {
    Assessment {
        categories: find(text, lists).categories,
    }
}

/// The sentences of one category's matches that are kept for the model to read, at most.
const MAX_SPANS: usize = 8;

/// What the lists found, and where: the message normalised, and for each category the
/// sentences (byte ranges of `norm`) holding a match that was not cleared, up to [`MAX_SPANS`]
/// per category (an `A + B` line's span is the whole message).
struct Found {
    categories: Vec<Category>,
    /// (category, from, to, whether the phrase speaks in someone's own voice).
    spans: Vec<(Category, usize, usize, bool)>,
    /// Matches the lists set aside (excluded or cleared): byte ranges of `norm`.
    set_aside: Vec<(usize, usize)>,
    sentence_starts: Vec<usize>,
    norm: String,
}

fn find(text: &str, lists: &PhraseLists) -> Found {
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
    // What the lists set aside (an exclusion, a negation, the news, the past told as over) is
    // hidden from the model too: n-grams cannot see 「とは思いません」.
    let mut set_aside: Vec<(usize, usize)> = Vec::new();
    positives.retain(|p| {
        let keep = !excluded.overlaps(lists.entries.get(p.entry).category, p);
        if !keep {
            set_aside.push((p.start, p.end));
        }
        keep
    });
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
        return Found {
            categories: Vec::new(),
            spans: Vec::new(),
            set_aside,
            sentence_starts: doc.sentence_starts,
            norm: doc.text,
        };
    }

    // Already in start order from the scan. A negation after a match only counts up to the next
    // match, so in 「消えたいし死にたいとは思わない」 the denial belongs to 死にたい alone.
    let mut ends: Vec<usize> = positives.iter().map(|p| p.end).collect();
    ends.sort_unstable();
    let rules = &*RULES;
    let mut categories: Vec<Category> = Vec::new();
    let mut spans: Vec<(Category, usize, usize, bool)> = Vec::new();
    // Parts of `A + B` lines found and not cleared: (combination, bit per part).
    let mut parts_found: Vec<(usize, u8)> = Vec::new();
    // Where the message last says things are better now; looked for once, on the first match.
    let mut better_now: Option<Option<usize>> = None;
    for p in &positives {
        let entry = &lists.entries.get(p.entry);
        let sentence_start = Document::start_before(&doc.sentence_starts, p.start);
        if categories.contains(&entry.category) {
            // Found already: judged again only as the first match of another sentence, so the
            // model can read each sentence that says it (see `assess_with`).
            let mut own = spans.iter().filter(|s| s.0 == entry.category);
            let seen = own.clone().count();
            if entry.part.is_some() || seen >= MAX_SPANS || own.any(|s| s.1 == sentence_start) {
                continue;
            }
        }
        let sentence_end = Document::end_after(&doc.sentence_starts, p.end, norm.len());
        let next_start = positives[positives.partition_point(|q| q.start < p.end)..]
            .first()
            .map_or(norm.len(), |q| q.start);
        let tail = &norm[p.end..sentence_end.min(next_start)];
        if is_negated(tail, rules) {
            set_aside.push((p.start, p.end));
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
            set_aside.push((p.start, p.end));
            continue;
        }
        let better = *better_now.get_or_insert_with(|| last_better_now(norm));
        if better.is_some_and(|b| b >= p.end)
            && told_as_past(
                &norm[sentence_start.min(p.start)..p.start],
                &norm[p.end..sentence_end.max(p.end)],
            )
        {
            set_aside.push((p.start, p.end));
            continue;
        }
        match entry.part {
            None => {
                if !categories.contains(&entry.category) {
                    categories.push(entry.category);
                }
                spans.push((
                    entry.category,
                    sentence_start,
                    sentence_end.max(p.end),
                    entry.own_voice,
                ));
            }
            Some(part) => add_part(&mut parts_found, part),
        }
    }
    for &(combo, _) in &parts_found {
        if combo_complete(lists, &parts_found, combo) {
            let category = lists.combos[combo].0;
            categories.push(category);
            spans.push((category, 0, norm.len(), false));
        }
    }
    categories.sort_unstable();
    categories.dedup();
    Found {
        categories,
        spans,
        set_aside,
        sentence_starts: doc.sentence_starts,
        norm: doc.text,
    }
}
