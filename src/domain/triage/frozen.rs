//! The built-in lists, indexed at build time. Expanding and indexing some 80,000 phrases takes
//! tens of milliseconds, and `ingest` runs once per mail: the build script (`build.rs`, through
//! `offline.rs`) compiles the shipped lists and writes them out with [`encode`], and the binary
//! uses them in place with [`builtin`], which reads only their outline (see `table.rs`). The
//! phrases' own text is left out (matching never needs it).
//!
//! The format is private to one build: little-endian `u32`s after a magic word, no versioning
//! beyond it. Anything that does not read back whole makes [`decode`] answer `None`, and the
//! lists are then compiled from their text as any other lists are.

use std::borrow::Cow;

use super::Category;
use super::compiled::{Compiled, Entry};
use super::table::{Row, Table, word};
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
        for n in t.nodes.iter() {
            self.u32(n.ch);
            self.u32(n.first_child);
            self.u32(n.next_sibling);
            self.u32(n.first_output);
        }
        self.usize(t.outputs.len());
        for (entry, next) in t.outputs.iter() {
            self.u32(entry);
            self.u32(next);
        }
    }
}

/// Reads what [`Writer`] wrote, keeping the arrays where they are: the build's own index is
/// borrowed from the binary, other bytes are copied once per array.
struct Reader<'a> {
    all: &'a [u8],
    at: usize,
    /// `all` again when it lives as long as the program.
    borrowed: Option<&'static [u8]>,
}

impl Reader<'_> {
    fn u32(&mut self) -> Option<u32> {
        let end = self.at.checked_add(4)?;
        let v = u32::from_le_bytes(self.all.get(self.at..end)?.try_into().ok()?);
        self.at = end;
        Some(v)
    }
    fn usize(&mut self) -> Option<usize> {
        self.u32().map(|v| v as usize)
    }
    /// The next `n` rows, in place.
    fn rows<T: Row>(&mut self, n: usize) -> Option<Table<T>> {
        let end = self.at.checked_add(n.checked_mul(T::WORDS * 4)?)?;
        let bytes = match self.borrowed {
            Some(all) => Cow::Borrowed(all.get(self.at..end)?),
            None => Cow::Owned(self.all.get(self.at..end)?.to_vec()),
        };
        self.at = end;
        Table::frozen(bytes)
    }
    /// A count, then that many rows.
    fn table<T: Row>(&mut self) -> Option<Table<T>> {
        let n = self.usize()?;
        self.rows(n)
    }
    fn trie(&mut self, entries: usize, check: bool) -> Option<Trie> {
        let index_root = self.u32()? != 0;
        let nodes = self.table::<Node>()?;
        let outputs = self.table::<(u32, u32)>()?;
        // Checked before the root index is built, which walks the root's children.
        if check && !Trie::is_consistent(&nodes, &outputs, entries) {
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
    for e in compiled.entries.iter() {
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

/// What [`encode`] wrote; `None` for anything else, checked whole so that nothing read back
/// can panic later. Used by the build script and the tests; the binary uses [`builtin`].
#[cfg_attr(not(test), allow(dead_code))]
pub(super) fn decode(bytes: &[u8]) -> Option<Compiled> {
    read(Reader {
        all: bytes,
        at: 0,
        borrowed: None,
    })
}

/// The build's own index, used in place. Not checked again here: the build script refuses to
/// write an index that [`decode`] would not take (`offline.rs`), and the tests compare it with
/// the lists compiled from text. Only its outline is read (counts and lengths), so a process
/// pays for the few rows its one message looks at.
pub(super) fn builtin(bytes: &'static [u8]) -> Option<Compiled> {
    read(Reader {
        all: bytes,
        at: 0,
        borrowed: Some(bytes),
    })
}

fn read(mut r: Reader<'_>) -> Option<Compiled> {
    let check = r.borrowed.is_none();
    if r.u32()? != MAGIC {
        return None;
    }
    let entries = r.table::<Entry>()?;
    let trie = r.trie(entries.len(), check)?;
    let n = r.usize()?;
    let mut followers = Vec::with_capacity(n.min(r.all.len() / 4));
    for _ in 0..n {
        // A follower's outputs are all 0: the entries it belongs to are found through `then`.
        followers.push(r.trie(usize::MAX, check)?);
    }
    let n = r.usize()?;
    let mut combos = Vec::with_capacity(n.min(r.all.len() / 8));
    for _ in 0..n {
        combos.push((*Category::ALL.get(r.usize()?)?, r.usize()?));
    }
    let truncated = r.usize()?;
    if r.at != r.all.len() || (check && !entries_consistent(&entries, followers.len(), &combos)) {
        return None;
    }
    Some(Compiled {
        entries,
        // The phrases' text is left out: only listing them needs it (PhraseLists::phrases).
        text: String::new(),
        trie,
        followers,
        combos,
        truncated,
    })
}

#[cfg_attr(not(test), allow(dead_code))]
fn category_index(category: Category) -> usize {
    Category::ALL
        .iter()
        .position(|&c| c == category)
        .unwrap_or(0)
}

/// Whether every entry's words are in range (read raw: reading a row trusts them).
fn entries_consistent(
    entries: &Table<Entry>,
    followers: usize,
    combos: &[(Category, usize)],
) -> bool {
    let Table::Frozen(bytes) = entries else {
        return true;
    };
    bytes.chunks_exact(Entry::WORDS * 4).all(|row| {
        let (category, then, combo, index) =
            (word(row, 0), word(row, 2), word(row, 3), word(row, 4));
        (category as usize) < Category::ALL.len()
            && (then == NONE || (then as usize) < followers)
            && (combo == NONE || ((combo as usize) < combos.len() && index < 8))
    })
}
