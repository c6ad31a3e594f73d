//! The built-in lists, indexed at build time. Expanding and indexing some 80,000 phrases takes
//! tens of milliseconds, and `ingest` runs once per mail: the build script (`build.rs`, through
//! `offline.rs`) compiles the shipped lists and writes them out with [`encode`], and the binary
//! reads them back with [`decode`], which only copies arrays. The phrases' own text is left out
//! (matching never needs it).
//!
//! The format is private to one build: little-endian `u32`s after a magic word, no versioning
//! beyond it. Anything that does not read back whole makes [`decode`] answer `None`, and the
//! lists are then compiled from their text as any other lists are.

use super::Category;
use super::compiled::{Compiled, Entry, Part};
use super::trie::{Node, Trie};

const MAGIC: u32 = 0x5452_4931; // "TRI1"
const NONE: u32 = u32::MAX;

// The writing half is used by the build script (and the tests), not by the binary itself.
#[cfg_attr(not(test), allow(dead_code))]
struct Writer(Vec<u8>);

#[cfg_attr(not(test), allow(dead_code))]
impl Writer {
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn usize(&mut self, v: usize) {
        self.u32(u32::try_from(v).unwrap_or(NONE));
    }
    fn trie(&mut self, t: &Trie) {
        self.u32(u32::from(t.index_root));
        self.usize(t.nodes.len());
        for n in &t.nodes {
            self.u32(u32::from(n.ch));
            self.u32(n.first_child);
            self.u32(n.next_sibling);
            self.u32(n.first_output);
        }
        self.usize(t.outputs.len());
        for &(entry, next) in &t.outputs {
            self.u32(entry);
            self.u32(next);
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.bytes.split_first_chunk::<4>()?;
        self.bytes = rest;
        Some(u32::from_le_bytes(*head))
    }
    fn usize(&mut self) -> Option<usize> {
        self.u32().map(|v| v as usize)
    }
    fn option(&mut self) -> Option<Option<usize>> {
        self.u32().map(|v| (v != NONE).then_some(v as usize))
    }
    /// A count of items of `words` words each, that the rest can hold.
    fn count(&mut self, words: usize) -> Option<usize> {
        let n = self.usize()?;
        (n.checked_mul(words * 4)? <= self.bytes.len()).then_some(n)
    }
    fn trie(&mut self) -> Option<Trie> {
        let index_root = self.u32()? != 0;
        let n = self.count(4)?;
        let (nodes_bytes, rest) = self.bytes.split_at_checked(n * 16)?;
        let m = u32::from_le_bytes(*rest.first_chunk::<4>()?) as usize;
        let outputs_bytes = rest.get(4..4 + m.checked_mul(8)?)?;
        self.bytes = &rest[4 + m * 8..];
        let word =
            |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let mut nodes = Vec::with_capacity(n);
        for chunk in nodes_bytes.chunks_exact(16) {
            nodes.push(Node {
                ch: char::from_u32(word(chunk, 0))?,
                first_child: word(chunk, 4),
                next_sibling: word(chunk, 8),
                first_output: word(chunk, 12),
            });
        }
        let outputs: Vec<(u32, u32)> = outputs_bytes
            .chunks_exact(8)
            .map(|c| (word(c, 0), word(c, 4)))
            .collect();
        let root_ok = nodes.first().is_some_and(|root| root.next_sibling == NONE);
        if !root_ok || !Trie::is_consistent(&nodes, &outputs, usize::MAX) {
            return None;
        }
        Some(Trie::from_parts(nodes, outputs, index_root))
    }
}

/// `compiled` as bytes for [`decode`].
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn encode(compiled: &Compiled) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    w.u32(MAGIC);
    w.usize(compiled.entries.len());
    for e in &compiled.entries {
        w.usize(category_index(e.category));
        w.u32(
            u32::from(e.exclusion)
                | u32::from(e.own_voice) << 1
                | u32::from(e.ascii_start) << 2
                | u32::from(e.ascii_end) << 3,
        );
        w.u32(e.then.map_or(NONE, |t| u32::try_from(t).unwrap_or(NONE)));
        w.u32(
            e.part
                .map_or(NONE, |p| u32::try_from(p.combo).unwrap_or(NONE)),
        );
        w.usize(e.part.map_or(0, |p| p.index));
    }
    w.trie(&compiled.trie);
    w.usize(compiled.followers.len());
    for f in &compiled.followers {
        w.trie(f);
    }
    w.usize(compiled.combos.len());
    for &(category, parts) in &compiled.combos {
        w.usize(category_index(category));
        w.usize(parts);
    }
    w.usize(compiled.truncated);
    w.0
}

/// What [`encode`] wrote; `None` for anything else.
pub(super) fn decode(bytes: &[u8]) -> Option<Compiled> {
    let mut r = Reader { bytes };
    if r.u32()? != MAGIC {
        return None;
    }
    let n = r.count(5)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let category = *Category::ALL.get(r.usize()?)?;
        let flags = r.u32()?;
        let then = r.option()?;
        let combo = r.option()?;
        let index = r.usize()?;
        entries.push(Entry {
            category,
            exclusion: flags & 1 != 0,
            own_voice: flags & 2 != 0,
            ascii_start: flags & 4 != 0,
            ascii_end: flags & 8 != 0,
            then,
            part: combo.map(|combo| Part { combo, index }),
            phrase: (0, 0),
        });
    }
    let trie = r.trie()?;
    let n = r.count(1)?;
    let mut followers = Vec::with_capacity(n);
    for _ in 0..n {
        followers.push(r.trie()?);
    }
    let n = r.count(2)?;
    let mut combos = Vec::with_capacity(n);
    for _ in 0..n {
        combos.push((*Category::ALL.get(r.usize()?)?, r.usize()?));
    }
    let truncated = r.usize()?;
    let compiled = Compiled {
        entries,
        // The phrases' text is left out: only listing them needs it (PhraseLists::phrases).
        text: String::new(),
        trie,
        followers,
        combos,
        truncated,
    };
    consistent(&compiled).then_some(compiled)
}

#[cfg_attr(not(test), allow(dead_code))]
fn category_index(category: Category) -> usize {
    Category::ALL
        .iter()
        .position(|&c| c == category)
        .unwrap_or(0)
}

/// Whether every index in `c` points where it may, so nothing read back can panic later.
fn consistent(c: &Compiled) -> bool {
    let entries = c.entries.len();
    c.entries.iter().all(|e| {
        e.then.is_none_or(|t| t < c.followers.len())
            && e.part
                .is_none_or(|p| p.combo < c.combos.len() && p.index < 8)
    }) && Trie::is_consistent(&c.trie.nodes, &c.trie.outputs, entries)
}
