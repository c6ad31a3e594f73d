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
//!
//! Nothing here reads files or clocks; the phrase lists are plain text given by the caller or
//! compiled in by [`PhraseLists::builtin`].

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use icu_normalizer::ComposingNormalizerBorrowed;

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

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// Splits sentences. Negation and context are only looked for inside one sentence, so that
/// 「死にたいとは思わない。」 cannot clear a 死にたい in the next one.
fn is_sentence_break(c: char) -> bool {
    matches!(
        c,
        '。' | '｡' | '．' | '！' | '？' | '!' | '?' | '\n' | '\r' | '\u{2028}' | '\u{2029}'
    )
}

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

/// Appends normalised text to a buffer, remembering whether something was dropped since the
/// last kept character.
#[derive(Default)]
struct Normaliser {
    out: String,
    /// Something was dropped since the last kept character.
    gap: bool,
    /// The last kept character is an ASCII letter or digit.
    after_ascii_word: bool,
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
            self.keep(c.to_ascii_lowercase());
        } else if u32::from(c) < 0x3000 && c.is_uppercase() {
            // Only Latin, Greek and Cyrillic case matters here; they sit below U+3000 once
            // NFKC has folded full-width letters, and the check is skipped for kana and kanji.
            for lower in c.to_lowercase() {
                self.keep(lower);
            }
        } else {
            self.keep(c);
        }
    }

    fn keep(&mut self, c: char) {
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
struct Document {
    text: String,
    /// Byte offsets in `text` where a new sentence begins (after a break); ascending.
    sentence_starts: Vec<usize>,
    /// Byte offsets where a new clause begins; includes every sentence start.
    clause_starts: Vec<usize>,
}

impl Document {
    fn new(raw: &str) -> Self {
        let mut n = Normaliser {
            out: String::with_capacity(raw.len()),
            ..Normaliser::default()
        };
        let mut sentence_starts = Vec::new();
        let mut clause_starts = Vec::new();
        // NFKC once over the whole text. Splitting afterwards is the same as splitting first:
        // the break characters survive NFKC (！ becomes !, ｡ becomes 。) and never compose.
        for c in NFKC.normalize(raw).chars() {
            let sentence = is_sentence_break(c);
            if sentence || is_clause_break(c) {
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
    fn end_after(starts: &[usize], pos: usize, len: usize) -> usize {
        let i = starts.partition_point(|&s| s < pos);
        starts.get(i).copied().unwrap_or(len)
    }

    /// Start of the span (sentence or clause) that contains `pos`.
    fn start_before(starts: &[usize], pos: usize) -> usize {
        let i = starts.partition_point(|&s| s <= pos);
        if i == 0 { 0 } else { starts[i - 1] }
    }
}

// ---------------------------------------------------------------------------------------------
// Phrase lists
// ---------------------------------------------------------------------------------------------

/// A line that would expand to more phrases than this is cut off there, so that a typo in an
/// edited list cannot exhaust memory. The built-in lists stay far below it.
const MAX_EXPANSIONS_PER_LINE: usize = 4096;

#[derive(Debug, Clone)]
struct Entry {
    category: Category,
    exclusion: bool,
    /// The phrase in normalised form.
    phrase: String,
    /// The phrase speaks in someone's own voice (a wish or an intention): news or fiction
    /// context never clears it, since 「ニュースで見て死にたくなった」 is about the writer.
    own_voice: bool,
    /// An ASCII letter or digit at an edge must not continue a longer ASCII word.
    ascii_start: bool,
    ascii_end: bool,
}

/// A trie over normalised characters: one walk from each position finds every phrase that
/// starts there, so a message is scanned once whatever the number of phrases.
#[derive(Debug, Clone)]
struct Trie {
    nodes: Vec<TrieNode>,
    /// The root's children again, indexed by character for the Basic Multilingual Plane
    /// (0 = none): the root is looked up at every position of every message, and nearly every
    /// character of Japanese text is in the BMP. Built lazily, on the first insert.
    root_bmp: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    /// Sorted by character for binary search.
    children: Vec<(char, usize)>,
    /// Indices into `PhraseLists::entries` of phrases ending here.
    outputs: Vec<usize>,
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: vec![TrieNode::default()],
            root_bmp: Vec::new(),
        }
    }
}

impl Trie {
    /// The node for `key`, created if missing.
    fn node_for(&mut self, key: &str) -> usize {
        let mut node = 0;
        for c in key.chars() {
            node = match self.nodes[node]
                .children
                .binary_search_by_key(&c, |&(k, _)| k)
            {
                Ok(i) => self.nodes[node].children[i].1,
                Err(i) => {
                    let child = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    self.nodes[node].children.insert(i, (c, child));
                    if node == 0 && u32::from(c) < 0x1_0000 {
                        if self.root_bmp.is_empty() {
                            self.root_bmp = vec![0; 0x1_0000];
                        }
                        // Node numbers fit in u32: lists are far smaller than 4 billion nodes.
                        self.root_bmp[u32::from(c) as usize] = u32::try_from(child).unwrap_or(0);
                    }
                    child
                }
            };
        }
        node
    }

    fn root_child(&self, c: char) -> Option<usize> {
        let u = u32::from(c) as usize;
        if u < 0x1_0000 {
            return match self.root_bmp.get(u) {
                Some(&n) if n != 0 => Some(n as usize),
                _ => None,
            };
        }
        let children = &self.nodes[0].children;
        children
            .binary_search_by_key(&c, |&(k, _)| k)
            .ok()
            .map(|i| children[i].1)
    }

    /// Calls `f(end, entry)` for every phrase that starts at byte `start` of `text`.
    fn matches_at(&self, text: &str, start: usize, mut f: impl FnMut(usize, usize)) {
        let mut node = 0;
        for (offset, c) in text[start..].char_indices() {
            let next = if node == 0 {
                self.root_child(c)
            } else {
                let children = &self.nodes[node].children;
                children
                    .binary_search_by_key(&c, |&(k, _)| k)
                    .ok()
                    .map(|i| children[i].1)
            };
            match next {
                Some(n) => node = n,
                None => return,
            }
            let end = start + offset + c.len_utf8();
            for &entry in &self.nodes[node].outputs {
                f(end, entry);
            }
        }
    }
}

/// The phrases to look for, per category, each with its exclusions.
///
/// Built from plain text, one phrase per line (see `config/triage/*.txt` for the format: `#`
/// comments, `!` exclusions, `{a|b}` alternatives). Phrases are normalised once, here.
#[derive(Clone, Default)]
pub struct PhraseLists {
    entries: Vec<Entry>,
    trie: Trie,
}

/// A summary: the full lists run to some ten thousand expanded phrases.
impl fmt::Debug for PhraseLists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("PhraseLists");
        for c in Category::ALL {
            let phrases = self.phrases(c).count();
            let exclusions = self.exclusions(c).count();
            d.field(
                c.as_str(),
                &format_args!("{phrases} phrases, {exclusions} exclusions"),
            );
        }
        d.finish()
    }
}

impl PhraseLists {
    /// Lists holding only `category`, read from `text`. Never fails: a line that is nothing
    /// after normalisation is skipped.
    pub fn parse(category: Category, text: &str) -> Self {
        let mut lists = PhraseLists::default();
        lists.add(category, text);
        lists
    }

    /// Adds the phrases of `text` to `category`, as [`PhraseLists::parse`] reads them.
    pub fn add(&mut self, category: Category, text: &str) {
        for line in text.lines() {
            let line = line.split(['#', '＃']).next().unwrap_or("").trim();
            let (exclusion, body) = match line.strip_prefix('!').or_else(|| line.strip_prefix('！'))
            {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            for variant in expand_alternatives(body) {
                self.insert(category, exclusion, &normalise(&variant));
            }
        }
    }

    /// The lists shipped in `config/triage/`, compiled in. Building them expands and indexes
    /// some ten thousand phrases (about 20 ms in a release build): build once at start-up and
    /// share, rather than per message.
    pub fn builtin() -> Self {
        let mut lists = PhraseLists::default();
        for category in Category::ALL {
            lists.add(category, category.builtin_list());
        }
        lists
    }

    /// The normalised phrases of `category`, in the order they were added.
    pub fn phrases(&self, category: Category) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |e| e.category == category && !e.exclusion)
            .map(|e| e.phrase.as_str())
    }

    /// The normalised exclusions of `category`, in the order they were added.
    pub fn exclusions(&self, category: Category) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(move |e| e.category == category && e.exclusion)
            .map(|e| e.phrase.as_str())
    }

    fn insert(&mut self, category: Category, exclusion: bool, phrase: &str) {
        if phrase.is_empty() {
            return;
        }
        let node = self.trie.node_for(phrase);
        let entries = &self.entries;
        let duplicate = self.trie.nodes[node].outputs.iter().any(|&i| {
            let e = &entries[i];
            e.category == category && e.exclusion == exclusion
        });
        if duplicate {
            return;
        }
        let index = self.entries.len();
        self.entries.push(Entry {
            category,
            exclusion,
            phrase: phrase.to_owned(),
            own_voice: OWN_VOICE.iter().any(|m| phrase.contains(m.as_str())),
            ascii_start: phrase.starts_with(|c: char| c.is_ascii_alphanumeric()),
            ascii_end: phrase.ends_with(|c: char| c.is_ascii_alphanumeric()),
        });
        self.trie.nodes[node].outputs.push(index);
    }
}

/// Expands `{a|b|c}` groups into every combination. `{a|}` makes `a` optional. A `{` without a
/// closing `}` (or with another `{` first) is kept as a literal character.
fn expand_alternatives(line: &str) -> Vec<String> {
    let mut variants = vec![String::new()];
    let mut rest = line;
    while !rest.is_empty() {
        let group = rest.strip_prefix('{').and_then(|after| {
            let close = after.find('}')?;
            let inner = &after[..close];
            (!inner.contains('{')).then_some((inner, &after[close + 1..]))
        });
        match group {
            Some((inner, after)) => {
                let options: Vec<&str> = inner.split('|').collect();
                let mut next = Vec::with_capacity(variants.len() * options.len());
                'outer: for v in &variants {
                    for o in &options {
                        if next.len() == MAX_EXPANSIONS_PER_LINE {
                            break 'outer;
                        }
                        next.push(format!("{v}{o}"));
                    }
                }
                variants = next;
                rest = after;
            }
            None => {
                // Up to the next `{`, but at least one character, so a lone `{` moves on.
                let first = rest.chars().next().map_or(0, char::len_utf8);
                let literal_len = rest[first..].find('{').map_or(rest.len(), |i| i + first);
                for v in &mut variants {
                    v.push_str(&rest[..literal_len]);
                }
                rest = &rest[literal_len..];
            }
        }
    }
    variants
}

// ---------------------------------------------------------------------------------------------
// Negation and context
// ---------------------------------------------------------------------------------------------

/// How far after a match a negation may begin, in characters. Long enough for
/// 「自殺なんて考えたこともない」, short enough not to reach into a new thought.
const NEGATION_GAP_MAX: usize = 10;
/// How far from a match a news or fiction word may be, in characters.
const CONTEXT_REACH: usize = 14;

/// Negations that clear a match followed by them: 死にたい|とは思わない, 暴力|はありません.
/// Only ever used after a gap that passes [`negation_gap_is_plain`].
const NEGATIONS: &[&str] = &[
    "{思|おも}{わない|ってない|っていない|いません|っていません|ってません|わなくなっ|わなくなり}",
    "{考|かんが}え{ない|ていない|てない|ません|ていません|てません}",
    "{わけ|訳}{では|じゃ|でも}{ない|無い|ありません|なく|ございません}",
    "{こと|事}{は|も|が|}{ない|無い|ありません|なかっ}",
    "{つもり|気}{は|も}{ない|無い|ありません}",
    "ほど{では|じゃ|でも}{ない|ありません}",
    "{は|も}{ない|無い|ありません|なく|なかっ}",
    "{は|も}{一切|いっさい|全く|まったく|全然|ぜんぜん}{ない|無い|ありません}",
    "{では|じゃ}{ない|ありません}",
    "{しない|しません|していない|していません|してない|してません}",
    "{され|られ}{ていない|ていません|てない|ません}",
    "{振る|ふる}{わない|いません|っていない|っていません|ってない|わなかっ}",
    "{振る|ふる}われ{ていない|ていません|てない|たことはない}",
    "{受け|うけ}{ていない|ていません|てない|たことはない}",
];

/// What may stand between a match and its negation: hiragana and the kanji of 思う, 考える,
/// 気持ち, 別に, 一度も, 全然, 決して, 特に, 一切, 少しも, 行為, 〜的. Anything else (a noun, a new
/// verb) means the negation may be about something else, so the match stays flagged:
/// 「死にたい気持ちが消えない」 is not a denial.
const NEGATION_GAP_KANJI: &str = "思考気持別一度全然決特切少行為的";

/// Words that, in the gap, turn the sentence: 「死にたいけど実行することはない」 still wants to
/// die, 「死にたいと思わないことはない」 is a double negative, 「死にたい気持ちがある…」 asserts.
const NEGATION_GAP_BLOCKERS: &[&str] = &[
    "ない",
    "なく",
    "ません",
    "なかっ",
    "けど",
    "けれ",
    "でも",
    "のに",
    "ても",
    "が",
    "しか",
];

/// What, right after a negation, reverses or questions it: 思わない|日はない, 思わない|ことはない,
/// 思わない|ようにしている, ないわけではない, ないか (心配), ないと言えば嘘, しないで (ほしい).
const REVERSALS: &[&str] = &[
    "日",
    "ひは",
    "ひが",
    "わけ",
    "訳",
    "こと",
    "事",
    "よう",
    "と",
    "か",
    "なら",
    "でほし",
    "でくだ",
    "で下さ",
    "時",
    "とき",
];

/// Phrases containing one of these speak in someone's own voice; see [`Entry::own_voice`].
static OWN_VOICE: LazyLock<Vec<String>> = LazyLock::new(|| {
    normalised_all(&[
        "たい",
        "たく",
        "つもり",
        "{方|ほう}が",
        "しか",
        "{死|し}のう",
        "ます",
        "まし",
    ])
});

/// Right after a match, these put it in the news or fiction: 自殺|のニュース,
/// 自殺した芸能人の|報道. Not 場面 or シーン: 「殴られる場面を思い出す」 is a memory.
const CONTEXT_AFTER: &[&str] = &[
    "ニュース",
    "報道",
    "ほうどう",
    "報じ",
    "ほうじ",
    "記事",
    "新聞",
    "しんぶん",
    "ドラマ",
    "映画",
    "えいが",
    "漫画",
    "まんが",
    "小説",
    "しょうせつ",
    "アニメ",
    "番組",
    "ばんぐみ",
    "特集",
    "ラジオ",
    "ドキュメンタリー",
];

/// Shortly before a match, these put it in the news or fiction:
/// ニュースで|中学生が|自殺した, ドラマで主人公が|自殺する.
const CONTEXT_BEFORE: &[&str] = &[
    "ニュース{で|によると|の中で|では}",
    "{報道|ほうどう}{で|によると|では}",
    "{記事|新聞|しんぶん}{で|によると|では|に}",
    "{ドラマ|映画|えいが|漫画|まんが|小説|しょうせつ|アニメ|番組|ばんぐみ|ラジオ}{で|の中で|では|の}",
    "{主人公|登場人物|キャラクター|キャラ|芸能人|有名人|俳優|歌手|アイドル|犯人|容疑者}{が|は|の}",
    "{小学生|中学生|高校生|大学生|少年|少女|男性|女性}が",
];

/// Between a context word and the match, these tie it back to the writer or the family, so the
/// context no longer excuses it: 「ドラマの影響で息子が暴れる」.
const CONTEXT_BLOCKERS: &[&str] = &[
    "私",
    "わたし",
    "僕",
    "ぼく",
    "俺",
    "おれ",
    "自分",
    "じぶん",
    "うち",
    "家",
    "父",
    "母",
    "兄",
    "弟",
    "姉",
    "妹",
    "息子",
    "娘",
    "夫",
    "妻",
    "主人",
    "親",
    "祖",
    "たい",
    "たく",
    "{考|かんが}え",
    "{思|おも}",
    "つもり",
];

/// After a match in anyone's voice, a report of it in the media: 「死にたい」と報じられた.
const REPORTED: &[&str] = &["と{報じ|ほうじ|報道|ほうどう}"];

struct Rules {
    negations: Vec<String>,
    gap_blockers: Vec<String>,
    reversals: Vec<String>,
    context_after: Vec<String>,
    context_before: Vec<String>,
    context_blockers: Vec<String>,
    reported: Vec<String>,
}

/// The rule words in normalised form, so they can be written naturally above (ニュース, 思わない).
static RULES: LazyLock<Rules> = LazyLock::new(|| Rules {
    negations: normalised_all(NEGATIONS),
    gap_blockers: normalised_all(NEGATION_GAP_BLOCKERS),
    reversals: normalised_all(REVERSALS),
    context_after: normalised_all(CONTEXT_AFTER),
    context_before: normalised_all(CONTEXT_BEFORE),
    context_blockers: normalised_all(CONTEXT_BLOCKERS),
    reported: normalised_all(REPORTED),
});

fn normalised_all(patterns: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = patterns
        .iter()
        .flat_map(|p| expand_alternatives(p))
        .map(|v| normalise(&v))
        .filter(|v| !v.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The first `n` characters of `s`.
fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// The last `n` characters of `s`.
fn last_chars(s: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    s.char_indices()
        .rev()
        .nth(n - 1)
        .map_or(s, |(i, _)| &s[i..])
}

fn contains_any(s: &str, words: &[String]) -> bool {
    words.iter().any(|w| s.contains(w.as_str()))
}

fn negation_gap_is_plain(gap: &str, rules: &Rules) -> bool {
    gap.chars().count() <= NEGATION_GAP_MAX
        && gap
            .chars()
            .all(|c| ('\u{3041}'..='\u{309F}').contains(&c) || NEGATION_GAP_KANJI.contains(c))
        && !contains_any(gap, &rules.gap_blockers)
}

/// Whether `tail`, the rest of the sentence after a match (cut at the next match), denies it.
fn is_negated(tail: &str, rules: &Rules) -> bool {
    // Enough for the longest gap plus the longest negation and what follows it.
    let tail = first_chars(tail, NEGATION_GAP_MAX + 24);
    for negation in &rules.negations {
        for (at, _) in tail.match_indices(negation.as_str()) {
            if !negation_gap_is_plain(&tail[..at], rules) {
                continue;
            }
            let rest = &tail[at + negation.len()..];
            let reversed = rules.reversals.iter().any(|r| rest.starts_with(r.as_str()))
                || ["ない", "ません", "なかっ"]
                    .iter()
                    .any(|n| first_chars(rest, 5).contains(n));
            if !reversed {
                return true;
            }
        }
    }
    false
}

/// Whether a match sits in a news or fiction context. `before` runs from the clause start (or
/// the previous match) to the match; `after` from the match to the clause end.
fn in_media_context(entry: &Entry, before: &str, after: &str, rules: &Rules) -> bool {
    if rules.reported.iter().any(|r| after.starts_with(r.as_str())) {
        return true;
    }
    if entry.own_voice {
        return false;
    }
    let after = first_chars(after, CONTEXT_REACH + 8);
    for word in &rules.context_after {
        if let Some(at) = after.find(word.as_str()) {
            let gap = &after[..at];
            if gap.chars().count() <= CONTEXT_REACH && !contains_any(gap, &rules.context_blockers) {
                return true;
            }
        }
    }
    let before = last_chars(before, CONTEXT_REACH);
    for word in &rules.context_before {
        if let Some(at) = before.rfind(word.as_str()) {
            let gap = &before[at + word.len()..];
            if !contains_any(gap, &rules.context_blockers) {
                return true;
            }
        }
    }
    false
}

// ---------------------------------------------------------------------------------------------
// Assessment
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    entry: usize,
}

/// Finds the urgent-risk categories in a consultation message. Pure and linear in the length of
/// the text (one trie walk per character; negation and context checks only run on matches).
pub fn assess(text: &str, lists: &PhraseLists) -> Assessment {
    let doc = Document::new(text);
    let norm = doc.text.as_str();
    let bytes = norm.as_bytes();
    let mut positives = Vec::new();
    let mut exclusions = Vec::new();
    for (start, _) in norm.char_indices() {
        lists.trie.matches_at(norm, start, |end, entry| {
            let e = &lists.entries[entry];
            let continues_word =
                (e.ascii_start && start > 0 && bytes[start - 1].is_ascii_alphanumeric())
                    || (e.ascii_end && bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric()));
            if continues_word {
                return;
            }
            let hit = Hit { start, end, entry };
            if e.exclusion {
                exclusions.push(hit);
            } else {
                positives.push(hit);
            }
        });
    }

    positives.retain(|p| {
        let category = lists.entries[p.entry].category;
        !exclusions.iter().any(|x| {
            lists.entries[x.entry].category == category && x.start < p.end && p.start < x.end
        })
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
    for p in &positives {
        let entry = &lists.entries[p.entry];
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
        categories.push(entry.category);
    }
    categories.sort_unstable();
    Assessment { categories }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static PhraseLists {
        static LISTS: LazyLock<PhraseLists> = LazyLock::new(PhraseLists::builtin);
        &LISTS
    }

    fn cats(text: &str) -> Vec<Category> {
        assess(text, builtin()).categories
    }

    use Category::*;

    #[test]
    fn category_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
            assert!(!c.label_ja().is_empty());
        }
        let err = "urgent".parse::<Category>().unwrap_err();
        assert_eq!(err, UnknownCategory("urgent".into()));
        assert!(err.to_string().contains("urgent"));
        assert_eq!(Emergency.label_ja(), "緊急");
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise("ＯＤ"), "od");
        assert_eq!(normalise("OD"), "od");
        assert_eq!(normalise("ｏｄ"), "od");
        assert_eq!(normalise("リストカット"), "りすとかっと");
        assert_eq!(normalise("ｼﾆﾀｲ"), "しにたい");
        assert_eq!(normalise("死 に　た い"), "死にたい");
        assert_eq!(normalise("死に\nたい。"), "死にたい");
        assert_eq!(normalise("「死にたい」…！？"), "死にたい");
        assert_eq!(normalise("しにたーーい"), "しにたい");
        assert_eq!(normalise("死にた〜い"), "死にたい");
        assert_eq!(normalise("死にてぇ"), "死にてえ");
        assert_eq!(normalise("オーバードーズ"), "おばどず");
        assert_eq!(normalise("１１０番"), "110番");
        // ASCII words keep one space so they do not merge.
        assert_eq!(normalise("good  food"), "good food");
        assert_eq!(normalise("ＯＤ した"), "odした");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("。、 \n"), "");
    }

    #[test]
    fn spellings_are_found() {
        for text in [
            "死にたい",
            "しにたい",
            "氏にたい",
            "市にたい",
            "タヒにたい",
            "シニタイ",
            "消えたい",
            "きえたい",
            "自殺",
            "自死",
            "生きているのがつらい",
            "生きてる意味がない",
            "首を吊ろう",
            "首吊り",
            "飛び降りたい",
            "遺書",
        ] {
            assert!(cats(text).contains(&SuicidalIdeation), "{text}");
        }
        for text in [
            "リスカ",
            "リストカット",
            "腕を切った",
            "ＯＤした",
            "ODした",
            "odした",
            "オーバードーズ",
            "薬を大量に飲んだ",
        ] {
            assert!(cats(text).contains(&SelfHarm), "{text}");
        }
        for text in [
            "殴られた",
            "暴力を受けた",
            "包丁を向けられた",
            "殺される",
            "家族に殴られる",
        ] {
            assert!(cats(text).contains(&ViolenceAtHome), "{text}");
        }
        for text in ["今から死ぬ", "遺書を書きました", "救急車を呼んで"] {
            assert!(cats(text).contains(&Emergency), "{text}");
        }
    }

    #[test]
    fn ascii_phrases_need_word_edges() {
        assert_eq!(cats("good food"), vec![]);
        assert_eq!(cats("DVDを見た"), vec![]);
        assert_eq!(cats("my OD again"), vec![SelfHarm]);
        assert_eq!(cats("夫のDVがひどい"), vec![ViolenceAtHome]);
    }

    #[test]
    fn each_negation_form_clears() {
        for text in [
            "死にたいとは思わない",
            "死にたいとは思いません",
            "死にたいとは思っていません",
            "死にたいなんて思ってない",
            "死にたいなんて思ってないです",
            "死にたいわけではない",
            "死にたいわけではありません",
            "死にたいわけじゃない",
            "死にたいわけでもない",
            "死にたいと思ったことはない",
            "死にたいと思ったことはありません",
            "死にたいと思ったことない",
            "自殺なんて考えたこともない",
            "自殺するつもりはない",
            "消えたいほどではない",
            "死にたいと思わなくなりました",
            "死にたいとかじゃない",
            "死にたい気持ちはありません",
        ] {
            assert_eq!(cats(text), vec![], "{text}");
        }
        assert_eq!(cats("家族間の暴力はありません"), vec![]);
        assert_eq!(cats("父は暴力をふるいません"), vec![]);
        assert_eq!(cats("殴られたことはない"), vec![]);
        assert_eq!(cats("リスカはしていません"), vec![]);
    }

    #[test]
    fn negation_needs_a_plain_gap_and_no_reversal() {
        for text in [
            // Double negatives and "never a day without".
            "死にたいと思わない日はない",
            "死にたいと思わないことはない",
            "死にたいとは思わないようにしている",
            "死にたいわけではないとは言えない",
            // A new noun or verb between match and negation: not a denial of the match.
            "死にたい気持ちが消えない",
            "死にたいけど実行することはない",
            "死にたいと思っても行動することはない",
            "死にたいとしか思えない",
            "息子が死にたいと言ってきかない",
            // A question or a plea, not a denial.
            "母が殴られていないか心配です",
            "殴らないで",
        ] {
            assert!(!cats(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn negation_stays_in_its_sentence() {
        assert_eq!(
            cats("死にたいです。とは思わない人もいる"),
            vec![SuicidalIdeation]
        );
        assert_eq!(cats("死にたい\nわけではない"), vec![SuicidalIdeation]);
        assert_eq!(
            cats("死にたいとは思わない。でも消えたい。"),
            vec![SuicidalIdeation]
        );
    }

    #[test]
    fn second_match_still_flags() {
        assert_eq!(
            cats("死にたいとは思わないけど、消えたい"),
            vec![SuicidalIdeation]
        );
        // The denial after 死にたい does not reach back over it to 消えたい.
        assert_eq!(
            cats("消えたいし死にたいとは思わない"),
            vec![SuicidalIdeation]
        );
        assert_eq!(
            cats("暴力はありませんが、リスカはやめられない"),
            vec![SelfHarm]
        );
    }

    #[test]
    fn news_and_fiction_context() {
        for text in [
            "自殺のニュースを見た",
            "ニュースで中学生が自殺したと知った",
            "芸能人が自殺したという報道を見た",
            "ドラマで主人公が自殺する場面があった",
            "映画で人が殺されるのは苦手",
        ] {
            assert_eq!(cats(text), vec![], "{text}");
        }
        for text in [
            "ニュースで見て死にたくなった",
            "自殺のニュースを見て、自分も死にたくなった",
            "ドラマの影響で息子が暴れる",
            "息子が自殺を考えてニュースばかり見ている",
        ] {
            assert!(!cats(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn exclusions_silence_only_their_spot_and_category() {
        let lists = PhraseLists::parse(SuicidalIdeation, "死にたい\n自殺\n!自殺のニュース\n");
        assert_eq!(
            lists.exclusions(SuicidalIdeation).collect::<Vec<_>>(),
            ["自殺のにゅす"]
        );
        assert_eq!(assess("自殺のニュース", &lists).categories, vec![]);
        assert_eq!(
            assess("自殺のニュースを見て自殺したくなった", &lists).categories,
            vec![SuicidalIdeation]
        );
        // An exclusion of another category does not silence this one.
        let mut lists = PhraseLists::parse(ViolenceAtHome, "!自殺\n");
        lists.add(SuicidalIdeation, "自殺");
        assert_eq!(assess("自殺", &lists).categories, vec![SuicidalIdeation]);
        // Built-in hard negatives.
        for text in [
            "死ぬほど疲れた",
            "今から死ぬ気で頑張ります",
            "OD錠を飲み忘れた",
            "殴り書きのメモ",
            "首を長くして待っています",
            "自分で自分の首を絞めている",
            "暴力的なゲーム",
        ] {
            assert_eq!(cats(text), vec![], "{text}");
        }
    }

    #[test]
    fn list_format() {
        let lists = PhraseLists::parse(
            SelfHarm,
            "# comment\n\n  リスカ  # trailing comment\n{腕|手首}を切{|った}\n！od錠\n{unclosed\n",
        );
        let phrases: Vec<&str> = lists.phrases(SelfHarm).collect();
        assert_eq!(
            phrases,
            [
                "りすか",
                "腕を切",
                "腕を切った",
                "手首を切",
                "手首を切った",
                "unclosed"
            ]
        );
        assert_eq!(lists.exclusions(SelfHarm).collect::<Vec<_>>(), ["od錠"]);
        assert_eq!(lists.phrases(Emergency).count(), 0);
        // Duplicates after normalisation are kept once.
        let lists = PhraseLists::parse(SelfHarm, "リスカ\nりすか\nﾘｽｶ");
        assert_eq!(lists.phrases(SelfHarm).count(), 1);
    }

    #[test]
    fn expansion_is_capped() {
        let line = "{a|b|c|d}".repeat(10);
        assert_eq!(expand_alternatives(&line).len(), MAX_EXPANSIONS_PER_LINE);
        assert_eq!(expand_alternatives("x{}y"), ["xy"]);
        assert_eq!(expand_alternatives("a{b{c}d"), ["a{bcd"]);
    }

    #[test]
    fn empty_and_blank_text() {
        assert_eq!(assess("", builtin()), Assessment::default());
        assert!(!assess("\n\n　。", builtin()).is_urgent());
        assert!(!assess("死にたい", &PhraseLists::default()).is_urgent());
    }

    #[test]
    fn long_message() {
        let filler = "息子のことで相談させてください。毎日ゲームをして過ごしています。";
        let mut text = String::new();
        while text.chars().count() < 2_000 {
            text.push_str(filler);
        }
        assert!(!assess(&text, builtin()).is_urgent());
        // A phrase broken across a hard-wrapped line at the very end is still found.
        text.push_str("最近は死に\nたいと思うことが増えました。");
        let a = assess(&text, builtin());
        assert!(a.is_urgent());
        assert!(a.has(SuicidalIdeation));
        assert_eq!(a.categories, vec![SuicidalIdeation]);
    }

    #[test]
    fn categories_are_sorted_and_unique() {
        let a = assess(
            "今から死にます。父に殴られて、リスカも止まらない。死にたい。",
            builtin(),
        );
        assert_eq!(
            a.categories,
            vec![SuicidalIdeation, SelfHarm, ViolenceAtHome, Emergency]
        );
    }

    proptest::proptest! {
        // Byte offsets are sliced everywhere above; any text must be safe, and the answer sorted.
        #[test]
        fn any_text_is_safe(text in "\\PC{0,200}") {
            let a = assess(&text, builtin());
            proptest::prop_assert!(a.categories.windows(2).all(|w| w[0] < w[1]));
        }

        #[test]
        fn phrase_soup_is_safe(
            text in "(死にたい|とは思わない|わけではない|ことはない|自殺|のニュース|ニュースで|殴|od|OD|ｏｄ|、|。|\n| |けど|消えたい|今から|ー|ぃ|a|1){0,40}"
        ) {
            let a = assess(&text, builtin());
            proptest::prop_assert!(a.categories.windows(2).all(|w| w[0] < w[1]));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Labelled set
    // -----------------------------------------------------------------------------------------

    const LABELLED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/triage/labelled.tsv"
    ));

    fn labelled() -> Vec<(&'static str, Vec<Category>)> {
        LABELLED
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                !(l.is_empty() || l.starts_with('#') || (*i == 0 && *l == "text\tlabels"))
            })
            .map(|(i, l)| {
                let (text, labels) = l
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("line {}: no tab", i + 1));
                let labels = if labels == "none" {
                    Vec::new()
                } else {
                    labels
                        .split(',')
                        .map(|s| {
                            s.trim()
                                .parse()
                                .unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
                        })
                        .collect()
                };
                (text, labels)
            })
            .collect()
    }

    #[derive(Default, Clone, Copy)]
    struct Counts {
        tp: usize,
        fp: usize,
        fn_: usize,
    }

    impl Counts {
        fn precision(self) -> f64 {
            ratio(self.tp, self.tp + self.fp)
        }
        fn recall(self) -> f64 {
            ratio(self.tp, self.tp + self.fn_)
        }
    }

    fn ratio(a: usize, b: usize) -> f64 {
        if b == 0 { 1.0 } else { a as f64 / b as f64 }
    }

    #[test]
    fn labelled_set_precision_and_recall() {
        let rows = labelled();
        assert!(rows.len() >= 220, "only {} labelled rows", rows.len());
        let lists = builtin();
        let mut per = [Counts::default(); 4];
        let mut urgent = Counts::default();
        let mut mistakes = String::new();
        for (text, expected) in &rows {
            let got = assess(text, lists).categories;
            for (i, c) in Category::ALL.into_iter().enumerate() {
                match (expected.contains(&c), got.contains(&c)) {
                    (true, true) => per[i].tp += 1,
                    (false, true) => per[i].fp += 1,
                    (true, false) => per[i].fn_ += 1,
                    (false, false) => {}
                }
            }
            match (!expected.is_empty(), !got.is_empty()) {
                (true, true) => urgent.tp += 1,
                (false, true) => urgent.fp += 1,
                (true, false) => urgent.fn_ += 1,
                (false, false) => {}
            }
            if got != *expected {
                let names = |v: &[Category]| {
                    if v.is_empty() {
                        "none".to_owned()
                    } else {
                        v.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(",")
                    }
                };
                mistakes.push_str(&format!(
                    "  expected {:<40} got {:<40} {text}\n",
                    names(expected),
                    names(&got)
                ));
            }
        }
        let overall = per.iter().fold(Counts::default(), |a, c| Counts {
            tp: a.tp + c.tp,
            fp: a.fp + c.fp,
            fn_: a.fn_ + c.fn_,
        });
        let positives = rows.iter().filter(|(_, l)| !l.is_empty()).count();
        let mut table = format!(
            "triage on {} labelled messages ({} with a category, {} without)\n\
             {:<22} {:>5} {:>5} {:>5} {:>9} {:>9}\n",
            rows.len(),
            positives,
            rows.len() - positives,
            "category",
            "tp",
            "fp",
            "fn",
            "precision",
            "recall"
        );
        let mut line = |name: &str, c: Counts| {
            table.push_str(&format!(
                "{name:<22} {:>5} {:>5} {:>5} {:>9.3} {:>9.3}\n",
                c.tp,
                c.fp,
                c.fn_,
                c.precision(),
                c.recall()
            ));
        };
        for (i, c) in Category::ALL.into_iter().enumerate() {
            line(c.as_str(), per[i]);
        }
        line("overall (micro)", overall);
        line("urgent (any)", urgent);
        table.push_str("mismatches:\n");
        table.push_str(&mistakes);
        println!("{table}");

        let too_low: Vec<&str> = Category::ALL
            .into_iter()
            .zip(per)
            .filter(|(_, c)| c.recall() < 0.95)
            .map(|(c, _)| c.as_str())
            .collect();
        assert!(
            overall.recall() >= 0.95 && urgent.recall() >= 0.95 && too_low.is_empty(),
            "recall below 0.95 (categories: {too_low:?})\n{table}"
        );
    }
}
