//! The trie every phrase and rule word is looked up in: one walk from a position finds every
//! word that starts there.

/// In `A … B`, how many characters may stand between the end of A and the start of B (within
/// one sentence). Enough for 「薬を何か月分も缶にためて」, short enough to stay in one thought.
pub(super) const FOLLOW_GAP_MAX: usize = 24;

/// A trie over normalised characters: one walk from each position finds every phrase that
/// starts there, so a message is scanned once whatever the number of phrases.
#[derive(Debug, Clone)]
pub(super) struct Trie {
    nodes: Vec<TrieNode>,
    /// The root's children again, indexed by character for the Basic Multilingual Plane
    /// (0 = none): the root is looked up at every position of every message, and nearly every
    /// character of Japanese text is in the BMP. Built lazily, on the first insert, unless
    /// `index_root` is off (the small tries of `A … B` lines, looked up only after an A).
    root_bmp: Vec<u32>,
    index_root: bool,
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

    /// A small trie of `phrases`, each output being its index there.
    pub(super) fn of(phrases: &[String]) -> Self {
        let mut trie = Trie::small();
        for (i, phrase) in phrases.iter().enumerate() {
            let node = trie.node_for(phrase);
            trie.nodes[node].outputs.push(i);
        }
        trie
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
        if !self.nodes[node].outputs.contains(&output) {
            self.nodes[node].outputs.push(output);
        }
    }

    /// The outputs stored for exactly `key`.
    pub(super) fn outputs(&self, key: &str) -> &[usize] {
        let mut node = 0;
        for c in key.chars() {
            let children = &self.nodes[node].children;
            match children.binary_search_by_key(&c, |&(k, _)| k) {
                Ok(i) => node = children[i].1,
                Err(_) => return &[],
            }
        }
        &self.nodes[node].outputs
    }

    pub(super) fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

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
                    if node == 0 && self.index_root && u32::from(c) < 0x1_0000 {
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
        if u < 0x1_0000 && !self.root_bmp.is_empty() {
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
