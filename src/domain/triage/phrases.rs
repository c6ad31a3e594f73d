//! Phrase lists: the line format (`{a|b}` alternatives, `@group`s, `A … B` and `A + B`), its
//! expansion, and the trie that finds every phrase in one walk per position.

use std::fmt;
use std::sync::{LazyLock, OnceLock};

use super::Category;
use super::compiled::{Compiled, Entry, Part};
use super::normalise::normalise;
use super::trie::Trie;

/// A line that would expand to more phrases than this is cut off there, so that a typo in an
/// edited list cannot exhaust memory. The built-in lists stay far below it.
pub(super) const MAX_EXPANSIONS_PER_LINE: usize = 4096;

/// The most parts an `A + B + …` line may have; a line with more is skipped.
const MAX_PARTS: usize = 4;

/// The phrases to look for, per category, each with its exclusions.
///
/// Built from plain text, one phrase per line (see `config/triage/*.txt` for the format: `#`
/// comments, `!` exclusions, `{a|b}` alternatives, `@name = …` groups, `A … B` within one
/// sentence, `A + B` within one message). Phrases are normalised once, when first needed.
///
/// Making lists is cheap: they keep the list texts and are expanded and indexed (some ten
/// thousand phrases, tens of milliseconds) the first time they are used, so a process that
/// never assesses a message (a bounce taken by `ingest`, any other command) never pays for it.
#[derive(Clone, Default)]
pub struct PhraseLists {
    sources: Vec<(Category, String)>,
    compiled: OnceLock<Compiled>,
    /// The lists compiled from text, for [`PhraseLists::phrases`] when `compiled` was read from
    /// the build-time index, which leaves the phrases' text out.
    listing: OnceLock<Compiled>,
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

    /// Adds the phrases of `text` to `category`, as [`PhraseLists::parse`] reads them. A line
    /// that uses an unknown `@group`, has more than one `…` in a part, more than
    /// four parts, an empty part, or is an exclusion with `+`, is skipped.
    pub fn add(&mut self, category: Category, text: &str) {
        self.sources.push((category, text.to_owned()));
        self.compiled = OnceLock::new();
        self.listing = OnceLock::new();
    }

    /// The lists shipped in `config/triage/`, compiled in. Cheap: they are expanded and indexed
    /// on first use (see [`PhraseLists`]); share one value rather than making one per message.
    pub fn builtin() -> Self {
        let mut lists = PhraseLists::default();
        for category in Category::ALL {
            lists.add(category, category.builtin_list());
        }
        lists
    }

    /// Whether the lists hold every category, as the shipped ones and the server's (each maybe
    /// replaced by a centre's own file) do: only such lists are joined by the n-gram model
    /// (`model.rs`), which was trained for the whole task.
    pub(super) fn covers_every_category(&self) -> bool {
        Category::ALL
            .iter()
            .all(|c| self.sources.iter().any(|(s, _)| s == c))
    }

    /// Expands and indexes the lists now rather than on first use (a long-running server can
    /// pay it at start). Idempotent.
    pub fn prepare(&self) {
        self.compiled();
    }

    /// The lists expanded and indexed, built on first call.
    pub(super) fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            // The shipped lists were indexed at build time: read them back (see `frozen.rs`).
            let shipped = self.sources.len() == Category::ALL.len()
                && self
                    .sources
                    .iter()
                    .zip(Category::ALL)
                    .all(|((c, text), category)| *c == category && text == category.builtin_list());
            if shipped && let Some(compiled) = super::frozen::builtin(super::builtin_index()) {
                return compiled;
            }
            Compiled::from_sources(self.sources.iter().map(|(c, t)| (*c, t.as_str())))
        })
    }

    /// The lists with their phrases' text.
    fn listed(&self) -> &Compiled {
        let compiled = self.compiled();
        if compiled.text.is_empty() && !compiled.entries.is_empty() {
            return self.listing.get_or_init(|| {
                Compiled::from_sources(self.sources.iter().map(|(c, t)| (*c, t.as_str())))
            });
        }
        compiled
    }

    /// The normalised phrases of `category`, in the order they were added.
    pub fn phrases(&self, category: Category) -> impl Iterator<Item = &str> {
        let listed = self.listed();
        listed
            .entries
            .iter()
            .filter(move |e| e.category == category && !e.exclusion)
            .map(move |e| listed.phrase(&e))
    }

    /// The normalised exclusions of `category`, in the order they were added.
    pub fn exclusions(&self, category: Category) -> impl Iterator<Item = &str> {
        let listed = self.listed();
        listed
            .entries
            .iter()
            .filter(move |e| e.category == category && e.exclusion)
            .map(move |e| listed.phrase(&e))
    }

    /// How many lines or groups were cut off at 4,096 alternatives: some
    /// of their phrases are missing. The built-in lists have none; an edited list should not.
    pub fn truncated_lines(&self) -> usize {
        self.compiled().truncated
    }
}

impl Compiled {
    /// The lists of `sources` expanded and indexed, from their text.
    pub(super) fn from_sources<'a>(sources: impl IntoIterator<Item = (Category, &'a str)>) -> Self {
        let mut compiled = Compiled::default();
        for (category, text) in sources {
            compiled.add(category, text);
        }
        compiled.trie = compiled.trie.laid_out();
        for follower in &mut compiled.followers {
            *follower = follower.laid_out();
        }
        compiled
    }

    /// Expands and indexes the phrases of `text` for `category` (see [`PhraseLists::add`]).
    fn add(&mut self, category: Category, text: &str) {
        let mut groups: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let line = line.split(['#', '＃']).next().unwrap_or("").trim();
            if let Some((name, pattern)) = group_definition(line) {
                // A definition that uses an unknown group defines nothing, and so does one with
                // `…` in it: `@g` would split the line using it inside its braces, into garbage.
                let Some(pattern) = substitute_groups(pattern, &groups) else {
                    continue;
                };
                if pattern.contains(['…', '‥']) || pattern.contains("...") {
                    groups.retain(|(n, _)| n != name);
                    continue;
                }
                let (alternatives, cut) = group_alternatives(&pattern);
                self.truncated += usize::from(cut);
                groups.retain(|(n, _)| n != name);
                groups.push((name.to_owned(), alternatives));
                continue;
            }
            let Some(line) = substitute_groups(line, &groups) else {
                continue;
            };
            let (exclusion, body) = match line.strip_prefix('!').or_else(|| line.strip_prefix('！'))
            {
                Some(rest) => (true, rest),
                None => (false, line.as_str()),
            };
            let parts: Vec<&str> = body.split(['+', '＋']).map(str::trim).collect();
            if parts.len() > MAX_PARTS
                || (parts.len() > 1 && (exclusion || parts.iter().any(|p| p.is_empty())))
            {
                continue;
            }
            let combo = (parts.len() > 1).then(|| {
                self.combos.push((category, parts.len()));
                self.combos.len() - 1
            });
            for (index, part) in parts.into_iter().enumerate() {
                let part_of = combo.map(|combo| Part { combo, index });
                self.add_part(category, exclusion, part, part_of);
            }
        }
    }

    /// Adds one part of a line: a phrase, or `A … B`.
    fn add_part(&mut self, category: Category, exclusion: bool, text: &str, part: Option<Part>) {
        let pieces: Vec<&str> = text
            .split(['…', '‥'])
            .flat_map(|p| p.split("..."))
            .collect();
        let (first, then, b_voice) = match pieces.as_slice() {
            [a] => (*a, None, false),
            [a, b] => {
                let mut follower = Trie::small();
                let mut voice = false;
                for variant in self.expand(b.trim()) {
                    let phrase = normalise(&variant);
                    if phrase.is_empty() {
                        continue;
                    }
                    voice |= speaks_in_own_voice(&phrase);
                    follower.insert(&phrase, 0);
                }
                if follower.is_empty() {
                    return;
                }
                self.followers.push(follower);
                (a.trim(), Some(self.followers.len() - 1), voice)
            }
            _ => return,
        };
        for variant in self.expand(first) {
            let phrase = normalise(&variant);
            self.insert(category, exclusion, &phrase, then, part, b_voice);
        }
    }

    fn expand(&mut self, pattern: &str) -> Vec<String> {
        let variants = expand_alternatives(pattern);
        self.truncated += usize::from(variants.len() >= MAX_EXPANSIONS_PER_LINE);
        variants
    }

    fn insert(
        &mut self,
        category: Category,
        exclusion: bool,
        phrase: &str,
        then: Option<usize>,
        part: Option<Part>,
        then_voice: bool,
    ) {
        if phrase.is_empty() {
            return;
        }
        let entries = &self.entries;
        let duplicate = self.trie.outputs(phrase).any(|i| {
            let e = entries.get(i);
            e.category == category && e.exclusion == exclusion && e.then == then && e.part == part
        });
        if duplicate {
            return;
        }
        let index = self.entries.len();
        self.entries.to_mut().push(Entry {
            category,
            exclusion,
            phrase: (
                u32::try_from(self.text.len()).unwrap_or(u32::MAX),
                u32::try_from(phrase.len()).unwrap_or(0),
            ),
            own_voice: then_voice || speaks_in_own_voice(phrase),
            ascii_start: phrase.starts_with(|c: char| c.is_ascii_alphanumeric()),
            ascii_end: phrase.ends_with(|c: char| c.is_ascii_alphanumeric()),
            then,
            part,
        });
        self.text.push_str(phrase);
        self.trie.insert(phrase, index);
    }

    /// The normalised phrase of `entry`.
    pub(super) fn phrase(&self, entry: &Entry) -> &str {
        let (start, len) = (entry.phrase.0 as usize, entry.phrase.1 as usize);
        self.text.get(start..start + len).unwrap_or("")
    }
}

/// `@name = pattern` (also with ＠ and ＝): a group that later lines of the same list use as
/// `@name`. Names are ASCII letters, digits and `_`.
fn group_definition(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(['@', '＠'])?;
    let (name, pattern) = rest.split_once(['=', '＝'])?;
    let name = name.trim();
    let valid = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    valid.then_some((name, pattern.trim()))
}

/// A group's patterns (split at each `|` outside braces), expanded into one `{a|b|…}` so that
/// patterns of different shapes can stand where one is expected; and whether it was cut off.
fn group_alternatives(pattern: &str) -> (String, bool) {
    let mut depth = 0usize;
    let mut patterns = Vec::new();
    let mut from = 0;
    for (i, c) in pattern.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '|' if depth == 0 => {
                patterns.push(&pattern[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    patterns.push(&pattern[from..]);
    let mut seen = std::collections::HashSet::new();
    let mut options: Vec<String> = Vec::new();
    let mut cut = false;
    for p in patterns {
        let variants = expand_alternatives(p.trim());
        cut |= variants.len() >= MAX_EXPANSIONS_PER_LINE;
        for v in variants {
            let literal = !v.contains(['{', '}', '|']);
            if literal && seen.insert(v.clone()) {
                if options.len() == MAX_EXPANSIONS_PER_LINE {
                    cut = true;
                    break;
                }
                options.push(v);
            }
        }
    }
    (format!("{{{}}}", options.join("|")), cut)
}

/// `line` with every `@name` replaced by its group's pattern; `None` when a name is unknown.
fn substitute_groups(line: &str, groups: &[(String, String)]) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(['@', '＠']) {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let after = &after[after.chars().next().map_or(0, char::len_utf8)..];
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let name = &after[..len];
        let (_, pattern) = groups.iter().rev().find(|(n, _)| n == name)?;
        out.push_str(pattern);
        rest = &after[len..];
    }
    out.push_str(rest);
    Some(out)
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

fn speaks_in_own_voice(phrase: &str) -> bool {
    OWN_VOICE.iter().any(|m| phrase.contains(m.as_str()))
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
