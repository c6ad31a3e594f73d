//! The trie every phrase and rule word is looked up in: one walk from a position finds every
//! word that starts there.

/// In `A … B`, how many characters may stand between the end of A and the start of B (within
/// one sentence). Enough for 「薬を何か月分も缶にためて」, short enough to stay in one thought.
pub(super) const FOLLOW_GAP_MAX: usize = 24;

/// No node, no output.
const NONE: u32 = u32::MAX;

/// A node's words, as [`Node`] is stored: a walk reads only the ones it needs.
const CH: usize = 0;
const FIRST_CHILD: usize = 1;
const NEXT_SIBLING: usize = 2;
const FIRST_OUTPUT: usize = 3;

use super::table::{Row, Table, Words, word};

/// A trie over normalised characters: one walk from each position finds every phrase that
/// starts there, so a message is scanned once whatever the number of phrases.
///
/// Stored flat, as a first-child / next-sibling tree in a few plain arrays (no allocation per
/// node), so that it is quick to build and can be written out and used in place: the
/// built-in lists are indexed at build time (see `frozen.rs`, `table.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Trie {
    /// Node 0 is the root.
    pub(super) nodes: Table<Node>,
    /// (entry, next output of the same node) lists; `Node::first_output` points in here.
    pub(super) outputs: Table<(u32, u32)>,
    /// The root's children again, indexed by character for the Basic Multilingual Plane
    /// (0 = none): the root is looked up at every position of every message, and nearly every
    /// character of Japanese text is in the BMP. Built lazily, on the first insert, unless
    /// `index_root` is off (the small tries of `A … B` lines, looked up only after an A).
    root_bmp: Vec<u32>,
    pub(super) index_root: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Node {
    /// The character, as its scalar value (what a frozen row holds).
    pub(super) ch: u32,
    pub(super) first_child: u32,
    pub(super) next_sibling: u32,
    pub(super) first_output: u32,
}

impl Node {
    fn new(ch: char) -> Self {
        Node {
            ch: u32::from(ch),
            first_child: NONE,
            next_sibling: NONE,
            first_output: NONE,
        }
    }
}

impl Default for Trie {
    fn default() -> Self {
        Trie {
            nodes: Table::Built(vec![Node::new('\0')]),
            outputs: Table::default(),
            root_bmp: Vec::new(),
            index_root: true,
        }
    }
}

impl Trie {
    /// A trie without the root index: a few kilobytes instead of 256 KiB.
    pub(super) fn small() -> Self {
        Trie {
            index_root: false,
            ..Trie::default()
        }
    }

    /// A trie made of stored arrays (see `frozen.rs`); the root index is rebuilt.
    pub(super) fn from_parts(
        nodes: Table<Node>,
        outputs: Table<(u32, u32)>,
        index_root: bool,
    ) -> Self {
        let mut trie = Trie {
            nodes,
            outputs,
            root_bmp: Vec::new(),
            index_root,
        };
        if index_root {
            let mut child = trie.first_child(0);
            while child != NONE {
                let node = trie.nodes.get(child as usize);
                trie.index_root_child(node.ch, child);
                child = node.next_sibling;
            }
        }
        trie
    }

    /// A small trie of `phrases`, each output being its index there.
    pub(super) fn of(phrases: &[String]) -> Self {
        let mut trie = Trie::small();
        for (i, phrase) in phrases.iter().enumerate() {
            trie.insert(phrase, i);
        }
        trie
    }

    /// The same trie with each node's children side by side, in the order a walk visits
    /// them, so that looking for a character among them reads neighbouring memory instead of
    /// nodes scattered in the order their phrases were added (a cache miss a sibling, at
    /// every character of every message). Nodes are numbered breadth first; a run of children
    /// is laid out from its last child up, as [`Trie::is_consistent`] wants siblings before
    /// their brothers. Outputs stay as they are.
    pub(super) fn laid_out(&self) -> Trie {
        let len = self.nodes.len();
        // New place -> old place, and old -> new.
        let mut order: Vec<u32> = Vec::with_capacity(len);
        let mut new_of = vec![NONE; len];
        order.push(0);
        new_of[0] = 0;
        let mut children: Vec<u32> = Vec::new();
        let mut next = 0;
        while next < order.len() {
            let old = order[next] as usize;
            next += 1;
            children.clear();
            let mut child = self.nodes.word(old, FIRST_CHILD);
            while child != NONE {
                children.push(child);
                child = self.nodes.word(child as usize, NEXT_SIBLING);
            }
            for &child in children.iter().rev() {
                new_of[child as usize] = u32::try_from(order.len()).unwrap_or(NONE);
                order.push(child);
            }
        }
        if order.len() != len {
            // Nodes no walk reaches (none are ever made): left as they are.
            return self.clone();
        }
        let moved = |link: u32| {
            if link == NONE {
                NONE
            } else {
                new_of[link as usize]
            }
        };
        let nodes = order
            .iter()
            .map(|&old| {
                let n = self.nodes.get(old as usize);
                Node {
                    first_child: moved(n.first_child),
                    next_sibling: moved(n.next_sibling),
                    ..n
                }
            })
            .collect();
        Trie::from_parts(Table::Built(nodes), self.outputs.clone(), self.index_root)
    }

    /// Whether some phrase starts at byte `start` of `text`.
    pub(super) fn any_at(&self, text: &str, start: usize) -> bool {
        let mut found = false;
        self.matches_at(text, start, |_, _| found = true);
        found
    }

    /// Adds `output` for `key`, unless it is there already.
    pub(super) fn insert(&mut self, key: &str, output: usize) {
        let node = self.node_for(key);
        let output = u32::try_from(output).unwrap_or(NONE);
        if self.outputs_of(node).any(|o| o == output as usize) {
            return;
        }
        // Appended at the end of the node's list, so outputs come in the order they were added.
        let index = u32::try_from(self.outputs.len()).unwrap_or(NONE);
        let outputs = self.outputs.to_mut();
        outputs.push((output, NONE));
        let nodes = self.nodes.to_mut();
        let mut link = nodes[node].first_output;
        if link == NONE {
            nodes[node].first_output = index;
            return;
        }
        while outputs[link as usize].1 != NONE {
            link = outputs[link as usize].1;
        }
        outputs[link as usize].1 = index;
    }

    /// The outputs stored for exactly `key`.
    pub(super) fn outputs(&self, key: &str) -> impl Iterator<Item = usize> + '_ {
        let mut node = Some(0);
        for c in key.chars() {
            node = node.and_then(|n| self.child(n, c));
        }
        let first = node.map_or(NONE, |n| self.nodes.get(n).first_output);
        OutputIter {
            trie: self,
            next: first,
        }
    }

    fn outputs_of(&self, node: usize) -> OutputIter<'_> {
        OutputIter {
            trie: self,
            next: self.nodes.word(node, FIRST_OUTPUT),
        }
    }

    /// Whether every link points inside the arrays, every output is below `entries`, and no
    /// walk can loop: a child always comes after its parent, a sibling before its brother (so a
    /// list of siblings ends), an output's next after it. That is how [`Trie::insert`] builds
    /// them; stored tries are checked when read back from bytes of unknown origin, and the
    /// build-time index once, by the build script.
    pub(super) fn is_consistent(
        nodes: &Table<Node>,
        outputs: &Table<(u32, u32)>,
        entries: usize,
    ) -> bool {
        let ok = |l: u32, len: usize| l == NONE || (l as usize) < len;
        let root_ok = !nodes.is_empty() && nodes.get(0).next_sibling == NONE;
        root_ok
            && nodes.iter().enumerate().all(|(i, n)| {
                ok(n.first_child, nodes.len())
                    && ok(n.next_sibling, nodes.len())
                    && ok(n.first_output, outputs.len())
                    && (n.first_child == NONE || n.first_child as usize > i)
                    && (n.next_sibling == NONE || (n.next_sibling as usize) < i)
            })
            && outputs.iter().enumerate().all(|(i, (e, next))| {
                (e as usize) < entries
                    && ok(next, outputs.len())
                    && (next == NONE || next as usize > i)
            })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// The child of `node` for `c`.
    fn child(&self, node: usize, c: char) -> Option<usize> {
        if node == 0 {
            return self.root_child(c);
        }
        self.sibling(self.nodes.word(node, FIRST_CHILD), c)
    }

    /// The node for `c` among `first` and its next siblings: only their characters and links
    /// are read (the walk runs at every character of every message).
    fn sibling(&self, first: u32, c: char) -> Option<usize> {
        let c = u32::from(c);
        let mut child = first;
        while child != NONE {
            if self.nodes.word(child as usize, CH) == c {
                return Some(child as usize);
            }
            child = self.nodes.word(child as usize, NEXT_SIBLING);
        }
        None
    }

    /// The node for `key`, created if missing.
    fn node_for(&mut self, key: &str) -> usize {
        let mut node = 0;
        for c in key.chars() {
            node = match self.child(node, c) {
                Some(child) => child,
                None => {
                    let child = u32::try_from(self.nodes.len()).unwrap_or(NONE);
                    let nodes = self.nodes.to_mut();
                    let mut new = Node::new(c);
                    new.next_sibling = nodes[node].first_child;
                    nodes.push(new);
                    nodes[node].first_child = child;
                    if node == 0 {
                        self.index_root_child(c, child);
                    }
                    child as usize
                }
            };
        }
        node
    }

    fn first_child(&self, node: usize) -> u32 {
        self.nodes.word(node, FIRST_CHILD)
    }

    fn index_root_child(&mut self, c: impl Into<u32>, child: u32) {
        let c = c.into();
        if self.index_root && c < 0x1_0000 {
            if self.root_bmp.is_empty() {
                self.root_bmp = vec![0; 0x1_0000];
            }
            self.root_bmp[c as usize] = child;
        }
    }

    fn root_child(&self, c: char) -> Option<usize> {
        let u = u32::from(c) as usize;
        if u < 0x1_0000 && !self.root_bmp.is_empty() {
            return match self.root_bmp.get(u) {
                Some(&n) if n != 0 => Some(n as usize),
                _ => None,
            };
        }
        self.sibling(self.first_child(0), c)
    }

    /// Calls `f(end, entry)` for every phrase that starts at byte `start` of `text`.
    pub(super) fn matches_at(&self, text: &str, start: usize, mut f: impl FnMut(usize, usize)) {
        let mut node = 0;
        for (offset, c) in text[start..].char_indices() {
            match self.child(node, c) {
                Some(n) => node = n,
                None => return,
            }
            let end = start + offset + c.len_utf8();
            for entry in self.outputs_of(node) {
                f(end, entry);
            }
        }
    }

    /// The end of a phrase found at or after byte `from`, starting at most [`FOLLOW_GAP_MAX`]
    /// characters later and ending by `limit`: the first one found, or with `furthest` the one
    /// that ends last (an exclusion covers as much as it can).
    pub(super) fn end_after(
        &self,
        text: &str,
        from: usize,
        limit: usize,
        furthest: bool,
    ) -> Option<usize> {
        let window = &text[..limit];
        let mut found: Option<usize> = None;
        for (start, _) in window[from..].char_indices().take(FOLLOW_GAP_MAX + 1) {
            self.matches_at(window, from + start, |end, _| {
                found = Some(found.map_or(end, |f| if furthest { f.max(end) } else { f }));
            });
            if found.is_some() && !furthest {
                break;
            }
        }
        found
    }
}

struct OutputIter<'a> {
    trie: &'a Trie,
    next: u32,
}

impl Iterator for OutputIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.next == NONE {
            return None;
        }
        let (entry, next) = self.trie.outputs.get(self.next as usize);
        self.next = next;
        Some(entry as usize)
    }
}

impl Row for Node {
    const WORDS: usize = 4;
    #[inline]
    fn read(bytes: &[u8]) -> Self {
        Node {
            ch: word(bytes, CH),
            first_child: word(bytes, FIRST_CHILD),
            next_sibling: word(bytes, NEXT_SIBLING),
            first_output: word(bytes, FIRST_OUTPUT),
        }
    }
}

impl Words for Node {
    fn word(&self, w: usize) -> u32 {
        [
            self.ch,
            self.first_child,
            self.next_sibling,
            self.first_output,
        ][w]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_matches(trie: &Trie, text: &str) -> Vec<(usize, usize, usize)> {
        let mut found = Vec::new();
        for (start, _) in text.char_indices() {
            trie.matches_at(text, start, |end, entry| found.push((start, end, entry)));
        }
        found
    }

    #[test]
    fn laid_out_finds_the_same_with_each_node_s_children_side_by_side() {
        let phrases: Vec<String> = [
            "死にたい",
            "死にたくなる",
            "死ぬ",
            "消えたい",
            "消えてしまいたい",
            "薬をためる",
            "薬を飲む",
            "いなくなりたい",
            "いなくなる",
            "い",
            "ab",
            "abc",
            "abd",
            "b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for index_root in [true, false] {
            let mut trie = if index_root {
                Trie::default()
            } else {
                Trie::small()
            };
            for (i, p) in phrases.iter().enumerate() {
                trie.insert(p, i);
                trie.insert(p, i + 100);
            }
            let laid = trie.laid_out();
            assert!(Trie::is_consistent(&laid.nodes, &laid.outputs, 200));
            assert_eq!(laid.nodes.len(), trie.nodes.len());
            for text in [
                "もう死にたくなる夜がある。消えてしまいたい",
                "薬をためる、薬を飲む、abcd abd b",
                "いなくなりたいといなくなる",
                "",
            ] {
                assert_eq!(all_matches(&laid, text), all_matches(&trie, text), "{text}");
            }
            for p in &phrases {
                let found: Vec<usize> = laid.outputs(p).collect();
                assert_eq!(found, trie.outputs(p).collect::<Vec<_>>(), "{p}");
            }
            // Every run of children is one block of places, walked from its last place down.
            for node in 0..laid.nodes.len() {
                let mut child = laid.first_child(node);
                while child != NONE {
                    let next = laid.nodes.word(child as usize, NEXT_SIBLING);
                    assert!(
                        next == NONE || next + 1 == child,
                        "node {node}: {child} then {next}"
                    );
                    child = next;
                }
            }
            // Still a trie new phrases can be added to.
            let mut more = laid.clone();
            more.insert("死にそう", 7);
            assert_eq!(more.outputs("死にそう").collect::<Vec<_>>(), vec![7]);
            assert_eq!(more.outputs("死にたい").collect::<Vec<_>>(), vec![0, 100]);
        }
    }
}
