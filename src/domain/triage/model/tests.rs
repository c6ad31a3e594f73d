//! The model's training, its frozen form and its look-ups.

use super::*;
use crate::domain::triage::Category::*;

fn tiny() -> Model {
    let rows: Vec<(&str, Vec<Category>)> = vec![
        ("薬をためています", vec![SuicidalIdeation]),
        ("薬を飲んでいます", vec![]),
        ("ロープを隠しています", vec![SuicidalIdeation]),
        ("ロープで遊んでいます", vec![]),
    ];
    Model::train(rows.iter().map(|(t, l)| (*t, l.as_slice())))
}

#[test]
fn grams_are_distinct_sorted_and_stay_in_their_sentence() {
    let (keys, chars) = grams("ああ。ああ");
    // あ+あ as a 2-gram, once; no 3-gram, since the break is between the pairs.
    assert_eq!(chars, 4);
    assert_eq!(keys, vec![u64::from('あ') << 42 | u64::from('あ') << 21]);
    let (keys, _) = grams("死にたい");
    assert_eq!(keys.len(), 3 + 2);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn scores_follow_what_was_trained() {
    let m = tiny();
    let (hoard, _) = m.scores("薬をためている");
    let (take, _) = m.scores("薬を飲んでいる");
    assert!(hoard[0] > take[0], "{hoard:?} {take:?}");
    assert!(hoard[1] > take[1]);
}

#[test]
fn frozen_reads_back_as_trained() {
    let m = tiny();
    let bytes: &'static [u8] = Box::leak(m.encode().into_boxed_slice());
    let back = Model::frozen(bytes).expect("reads");
    assert!(back.is_sorted() && back.is_indexed());
    assert_eq!(back.len(), m.len());
    for text in ["薬をためている", "ロープで遊ぶ", "知らない言葉"] {
        assert_eq!(back.scores(text), m.scores(text), "{text}");
    }
    // Anything else is refused rather than misread.
    assert!(Model::frozen(&[]).is_none());
    assert!(Model::frozen(&bytes[..bytes.len() - 3]).is_none());
    let mut bad = bytes.to_vec();
    bad[0] ^= 1;
    assert!(Model::frozen(Box::leak(bad.into_boxed_slice())).is_none());
    // Slots said to be more than there are bytes for, or more than a model may have.
    let bits_at = 4 * (1 + CLASSES);
    for bits in [20u32, MAX_SLOT_BITS + 1] {
        let mut bad = bytes.to_vec();
        bad[bits_at..bits_at + 4].copy_from_slice(&bits.to_le_bytes());
        assert!(
            Model::frozen(Box::leak(bad.into_boxed_slice())).is_none(),
            "{bits}"
        );
    }
    // No slots at all (bits 0) is a model whose grams are searched: the same scores.
    let slots = 4 * (1usize << word(bytes, 1 + CLASSES));
    let mut unslotted = bytes[..bits_at].to_vec();
    unslotted.extend_from_slice(&0u32.to_le_bytes());
    unslotted.extend_from_slice(&bytes[bits_at + 4 + slots..]);
    let unslotted = Model::frozen(Box::leak(unslotted.into_boxed_slice())).expect("reads");
    assert!(unslotted.slots.is_empty());
    for text in ["薬をためている", "ロープで遊ぶ", "知らない言葉"] {
        assert_eq!(unslotted.scores(text), m.scores(text), "{text}");
    }
}

#[test]
fn the_shipped_model_is_there_and_in_order() {
    let m = Model::frozen(crate::domain::triage::builtin_model()).expect("the build wrote it");
    assert!(m.is_sorted() && m.is_indexed());
    assert!(m.len() > 10_000, "{}", m.len());
}

/// What [`Model::score_keys`] adds up, found the plain way: one binary search per key.
fn sums_one_search_each(m: &Model, keys: &[u64]) -> [f32; CLASSES] {
    let mut sums = m.priors;
    for key in keys {
        let (mut lo, mut hi) = (0, m.grams.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let g = m.grams.get(mid);
            match g.key.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => {
                    for (s, w) in sums.iter_mut().zip(g.weights) {
                        *s += w;
                    }
                    break;
                }
            }
        }
    }
    let n = (keys.len().max(1) as f32).sqrt();
    sums.map(|s| s / n)
}

#[test]
fn hashing_finds_what_one_search_per_key_finds() {
    let m = Model::frozen(crate::domain::triage::builtin_model()).expect("the build wrote it");
    let len = m.len();
    let all: Vec<u64> = (0..len).map(|i| m.key(i)).collect();
    // Keys of the table (first, last, runs, lone ones), keys between and beyond them.
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut sets: Vec<Vec<u64>> = vec![
        vec![],
        vec![0],
        vec![u64::MAX],
        vec![all[0], all[len - 1]],
        all[100..140].to_vec(),
        all.iter().step_by(997).copied().collect(),
    ];
    for _ in 0..200 {
        let mut keys: Vec<u64> = (0..next() % 300)
            .map(|_| match next() % 3 {
                0 => all[(next() % len as u64) as usize],
                1 => all[(next() % len as u64) as usize] + 1,
                _ => next(),
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        sets.push(keys);
    }
    // And without the slots (searched then), as for a model too large for them.
    let unindexed = Model {
        slots: Cow::Borrowed(&[]),
        ..m.clone()
    };
    // Every gram of the model is found where it is, by its hash.
    for (i, &key) in all.iter().enumerate() {
        assert_eq!(m.find(key), Some(i), "gram {i}");
    }
    for keys in sets {
        let expected = sums_one_search_each(&m, &keys);
        for model in [&m, &unindexed] {
            let (got, _) = model.score_keys((keys.clone(), 0));
            // The same weights added in the same order: equal to the bit.
            assert_eq!(
                got.map(f32::to_bits),
                expected.map(f32::to_bits),
                "{keys:?}"
            );
        }
    }
    for text in ["死にたいと毎晩思います。", "息子が部屋から出てきません", ""]
    {
        let (keys, _) = grams(text);
        assert_eq!(m.scores(text).0, sums_one_search_each(&m, &keys), "{text}");
    }
}

#[test]
fn labelled_rows_skip_what_does_not_read() {
    let rows = labelled_rows(
        "text\tlabels\n# note\n\nA\tnone\nB\tself_harm,emergency\nC\tnonsense\nno tab\n",
    );
    assert_eq!(rows, vec![("A", vec![]), ("B", vec![SelfHarm, Emergency])]);
}

#[test]
fn slots_that_lead_nowhere_end_the_probe() {
    let m = tiny();
    let key = m.key(0);
    let size = m.slots.len() / 4;
    // Every slot taken, each naming another gram (or one past the end): a probe that found
    // no empty slot must stop after trying each once, and never read past the grams.
    for wrong in [2u32, m.len() as u32 + 1] {
        let full = Model {
            slots: Cow::Owned((0..size).flat_map(|_| wrong.to_le_bytes()).collect()),
            ..m.clone()
        };
        assert_eq!(full.find(key), None, "slot {wrong}");
        assert_eq!(full.find(u64::MAX), None);
    }
}
