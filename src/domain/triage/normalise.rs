//! Normalisation: the one form in which messages and phrases are compared, and the sentence and
//! clause breaks of a message.

use icu_normalizer::ComposingNormalizerBorrowed;
use icu_normalizer::properties::CanonicalCombiningClassMapBorrowed;

/// Splits sentences. Negation and context are only looked for inside one sentence, so that
/// 「死にたいとは思わない。」 cannot clear a 死にたい in the next one.
fn is_sentence_break(c: char) -> bool {
    matches!(
        c,
        '。' | '｡' | '．' | '！' | '？' | '!' | '?' | '\n' | '\r' | '\u{2028}' | '\u{2029}'
    )
}

/// The most characters a quote (「…」) may hold before it is taken as left open.
const MAX_QUOTE: usize = 200;

/// Splits clauses. News context must be in the same clause, so that in
/// 「ニュースを見て、死にたくなった」 the news cannot excuse what follows the comma.
fn is_clause_break(c: char) -> bool {
    matches!(c, '、' | '､' | '，' | ',')
}

/// Characters dropped by [`normalise`]: spacing, punctuation, symbols, emoji, the long-vowel
/// mark and wave dashes (so しにたーい and 死にた〜い match), invisible format characters.
/// Written as ranges because std has no Unicode general categories; NFKC has already turned
/// full-width ASCII and most compatibility symbols into ASCII or letters before this runs.
fn is_dropped(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_alphanumeric();
    }
    // Fast path for the bulk of Japanese text: hiragana and CJK ideographs are always kept.
    if ('\u{3041}'..='\u{3096}').contains(&c) || ('\u{4E00}'..='\u{9FFF}').contains(&c) {
        return false;
    }
    if c.is_whitespace() || c.is_control() {
        return true;
    }
    let u = u32::from(c);
    matches!(u,
        0x00A1..=0x00BF | 0x00D7 | 0x00F7
        | 0x2000..=0x206F          // general punctuation, zero-width characters
        | 0x20A0..=0x20CF          // currency
        | 0x2190..=0x2BFF          // arrows, maths, technical, box drawing, shapes, dingbats
        | 0x2E00..=0x2E7F          // supplemental punctuation
        | 0x3000..=0x3004 | 0x3008..=0x3030 | 0x3036..=0x303A | 0x303C..=0x303F
        | 0x3099..=0x309C          // lone (semi-)voiced sound marks
        | 0x30A0 | 0x30FB | 0x30FC // ゠ ・ ー
        | 0xE000..=0xF8FF          // private use: old carrier emoji
        | 0xFE00..=0xFE0F          // variation selectors
        | 0xFE10..=0xFE6F          // vertical and small forms
        | 0xFEFF | 0xFF5E | 0xFFF9..=0xFFFD
        | 0x1F000..=0x1FAFF        // emoji and pictographs
        | 0xE0000..=0xE007F        // tag characters
    )
}

/// Folds kana in one NFKC-normalised character: katakana to hiragana, small vowels to full
/// size (死にたぃ, 死にてぇ). Case is folded by the caller.
fn fold_kana(c: char) -> char {
    let u = u32::from(c);
    let c = match u {
        // ァ..ヶ and ヽヾ sit exactly 0x60 above their hiragana.
        0x30A1..=0x30F6 | 0x30FD..=0x30FE => char::from_u32(u - 0x60).unwrap_or(c),
        _ => c,
    };
    match c {
        'ぁ' => 'あ',
        'ぃ' => 'い',
        'ぅ' => 'う',
        'ぇ' => 'え',
        'ぉ' => 'お',
        _ => c,
    }
}

static NFKC: ComposingNormalizerBorrowed<'static> = ComposingNormalizerBorrowed::new_nfkc();
static CCC: CanonicalCombiningClassMapBorrowed<'static> = CanonicalCombiningClassMapBorrowed::new();

/// Kept characters that never combine with what stands before them, nor reorder: the bulk of
/// Japanese text (hiragana once katakana is folded, CJK ideographs) and ASCII.
fn never_combines(c: char) -> bool {
    c.is_ascii() || ('\u{3041}'..='\u{3096}').contains(&c) || ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// A run of marks after the last starter longer than this, following a dropped character, is
/// not checked but dropped: no real text has one, and checking it would cost its square.
const MAX_UNSETTLED_BYTES: usize = 64;

/// Appends normalised text to a buffer, remembering whether something was dropped since the
/// last kept character.
#[derive(Default)]
struct Normaliser {
    out: String,
    /// Something was dropped since the last kept character.
    gap: bool,
    /// The last kept character is an ASCII letter or digit.
    after_ascii_word: bool,
    /// Byte offset in `out` of the last kept starter (canonical combining class 0).
    starter: usize,
    /// Since the last drop, only characters that may combine were kept: each must be checked.
    unsettled: bool,
}

impl Normaliser {
    fn push(&mut self, raw: &str) {
        for c in NFKC.normalize(raw).chars() {
            self.push_nfkc(c);
        }
    }

    /// Takes one character that is already in NFKC.
    fn push_nfkc(&mut self, c: char) {
        if is_dropped(c) {
            self.gap = true;
            return;
        }
        let c = fold_kana(c);
        if c.is_ascii() {
            let lower = c.to_ascii_lowercase();
            self.keep(lower);
            // A lower-case letter may compose with a mark its capital did not (t and U+0308
            // make ẗ, T has no such letter): the marks after it are checked, as after a drop.
            self.unsettled |= lower != c;
        } else if u32::from(c) < 0x3000 && c.is_uppercase() {
            // Only Latin, Greek and Cyrillic case matters here; they sit below U+3000 once
            // NFKC has folded full-width letters, and the check is skipped for kana and kanji.
            for lower in c.to_lowercase() {
                self.keep(lower);
            }
            self.unsettled = true;
        } else {
            self.keep(c);
        }
    }

    fn keep(&mut self, c: char) {
        if never_combines(c) {
            self.unsettled = false;
        } else if self.gap || self.unsettled {
            self.unsettled = true;
            if !self.settles(c) {
                // An orphan: its letter was dropped, or a dropped character stood between.
                self.gap = true;
                return;
            }
        }
        if CCC.get32_u8(u32::from(c)) == 0 {
            self.starter = self.out.len();
        }
        let ascii_word = c.is_ascii_alphanumeric();
        // Spaces go, but two ASCII words must not run together: "my od" must not become
        // "myod", nor "good food" hide an "od" between them.
        if self.gap && ascii_word && self.after_ascii_word {
            self.out.push(' ');
        }
        self.gap = false;
        self.after_ascii_word = ascii_word;
        self.out.push(c);
    }
}

impl Normaliser {
    /// Whether `c`, kept after a dropped character, leaves the output in NFKC. NFKC ran before
    /// the drop, so a mark that belonged to a dropped letter, or was separated from its letter by
    /// a dropped character, would compose or be reordered only when the output is normalised
    /// again; such a mark is dropped instead, so that normalising twice is normalising once.
    fn settles(&self, c: char) -> bool {
        // A starter only combines with the character right before it; a mark with everything
        // since the last starter.
        let from = if CCC.get32_u8(u32::from(c)) == 0 {
            self.out.char_indices().next_back().map_or(0, |(i, _)| i)
        } else {
            self.starter
        };
        let tail = &self.out[from..];
        if tail.len() > MAX_UNSETTLED_BYTES {
            return false;
        }
        let mut buf = String::with_capacity(tail.len() + 4);
        buf.push_str(tail);
        buf.push(c);
        NFKC.is_normalized(&buf)
    }
}

/// The form in which messages and phrases are compared: NFKC, katakana folded to hiragana,
/// small ぁぃぅぇぉ enlarged, lower case, and spaces, punctuation, symbols, line breaks, ー and 〜
/// removed. A single space is kept only between two ASCII letters or digits.
///
/// `normalise("ＯＤ した")` is `"odした"`; `normalise("シ ニ タ イ")` is `"しにたい"`.
pub fn normalise(text: &str) -> String {
    let mut n = Normaliser::default();
    n.push(text);
    n.out
}

/// A message in normalised form, with the places where its sentences and clauses begin.
pub(super) struct Document {
    pub(super) text: String,
    /// Byte offsets in `text` where a new sentence begins (after a break); ascending.
    pub(super) sentence_starts: Vec<usize>,
    /// Byte offsets where a new clause begins; includes every sentence start.
    pub(super) clause_starts: Vec<usize>,
}

impl Document {
    pub(super) fn new(raw: &str) -> Self {
        let mut n = Normaliser {
            out: String::with_capacity(raw.len()),
            ..Normaliser::default()
        };
        let mut sentence_starts = Vec::new();
        let mut clause_starts = Vec::new();
        // NFKC once over the whole text. Splitting afterwards is the same as splitting first:
        // the break characters survive NFKC (！ becomes !, ｡ becomes 。) and never compose.
        // Inside 「…」 or 『…』 a 。！？ ends a clause, not the sentence: in
        // 「ありがとう。ごめんね」と届きました the quote and what frames it are one sentence, so
        // a rule can see both. A quote left open ends at a line break or after MAX_QUOTE.
        let mut quote: Option<usize> = None;
        for c in NFKC.normalize(raw).chars() {
            match c {
                '「' | '『' => quote = Some(0),
                '」' | '』' => quote = None,
                _ => {}
            }
            if let Some(n) = quote.as_mut() {
                *n += 1;
                if *n > MAX_QUOTE || matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}') {
                    quote = None;
                }
            }
            let sentence = is_sentence_break(c) && quote.is_none();
            if sentence || is_clause_break(c) || is_sentence_break(c) {
                n.gap = true;
                clause_starts.push(n.out.len());
                if sentence {
                    sentence_starts.push(n.out.len());
                }
            } else {
                n.push_nfkc(c);
            }
        }
        Document {
            text: n.out,
            sentence_starts,
            clause_starts,
        }
    }

    /// End of the span (sentence or clause) that goes on from `pos`.
    pub(super) fn end_after(starts: &[usize], pos: usize, len: usize) -> usize {
        let i = starts.partition_point(|&s| s < pos);
        starts.get(i).copied().unwrap_or(len)
    }

    /// Start of the span (sentence or clause) that contains `pos`.
    pub(super) fn start_before(starts: &[usize], pos: usize) -> usize {
        let i = starts.partition_point(|&s| s <= pos);
        if i == 0 { 0 } else { starts[i - 1] }
    }
}
