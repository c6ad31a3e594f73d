//! Phrase lists: the `{a|b}` line format, its expansion, and the trie that finds every phrase in
//! one walk per position.

use std::fmt;
use std::sync::LazyLock;

use super::Category;
use super::normalise::normalise;

/// A line that would expand to more phrases than this is cut off there, so that a typo in an
/// edited list cannot exhaust memory. The built-in lists stay far below it.
pub(super) const MAX_EXPANSIONS_PER_LINE: usize = 4096;

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) category: Category,
    pub(super) exclusion: bool,
    /// The phrase in normalised form.
    pub(super) phrase: String,
    /// The phrase speaks in someone's own voice (a wish or an intention): news or fiction
    /// context never clears it, since 「ニュースで見て死にたくなった」 is about the writer.
    pub(super) own_voice: bool,
    /// An ASCII letter or digit at an edge must not continue a longer ASCII word.
    pub(super) ascii_start: bool,
    pub(super) ascii_end: bool,
}

/// A trie over normalised characters: one walk from each position finds every phrase that
/// starts there, so a message is scanned once whatever the number of phrases.
#[derive(Debug, Clone)]
pub(super) struct Trie {
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
    pub(super) fn matches_at(&self, text: &str, start: usize, mut f: impl FnMut(usize, usize)) {
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
    pub(super) entries: Vec<Entry>,
    pub(super) trie: Trie,
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
pub(super) fn expand_alternatives(line: &str) -> Vec<String> {
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

/// Phrases containing one of these speak in someone's own voice; see [`Entry::own_voice`]. Kept
/// here because it is decided once per phrase, when the lists are built.
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

/// Every expansion of `patterns`, normalised, sorted and without duplicates.
pub(super) fn normalised_all(patterns: &[&str]) -> Vec<String> {
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
