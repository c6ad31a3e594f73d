//! Rows of a few `u32` words, either built in memory or read in place from the build-time index
//! (`frozen.rs`): one `ingest` process per mail must not copy some 5 MB of tries and entries
//! before it can look at its one message. A frozen row is decoded only when it is looked at.

use std::borrow::Cow;

/// A row that can be read from its little-endian words.
pub(super) trait Row: Copy {
    /// Words of 4 bytes per row.
    const WORDS: usize;
    /// The row stored in `bytes`, exactly `WORDS * 4` of them.
    fn read(bytes: &[u8]) -> Self;
}

/// A row whose words can be read one at a time, as [`Row::read`] reads them.
pub(super) trait Words: Row {
    fn word(&self, w: usize) -> u32;
}

/// The `i`-th little-endian word of `bytes`.
#[inline]
pub(super) fn word(bytes: &[u8], i: usize) -> u32 {
    let at = i * 4;
    let four: [u8; 4] = bytes[at..at + 4].try_into().unwrap_or_default();
    u32::from_le_bytes(four)
}

#[derive(Debug, Clone)]
pub(super) enum Table<T> {
    Built(Vec<T>),
    /// `len * T::WORDS * 4` bytes of the index; borrowed from the binary for the built-in lists.
    Frozen(Cow<'static, [u8]>),
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table::Built(Vec::new())
    }
}

impl<T: Row> Table<T> {
    /// Rows stored in `bytes`; `None` unless they hold a whole number of rows.
    pub(super) fn frozen(bytes: Cow<'static, [u8]>) -> Option<Self> {
        bytes
            .len()
            .is_multiple_of(T::WORDS * 4)
            .then_some(Table::Frozen(bytes))
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Table::Built(rows) => rows.len(),
            Table::Frozen(bytes) => bytes.len() / (T::WORDS * 4),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`; panics past the end, as a slice does.
    #[inline]
    pub(super) fn get(&self, i: usize) -> T {
        match self {
            Table::Built(rows) => rows[i],
            Table::Frozen(bytes) => {
                let size = T::WORDS * 4;
                T::read(&bytes[i * size..(i + 1) * size])
            }
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The rows to change; frozen ones are copied out first (only lists being built change).
    pub(super) fn to_mut(&mut self) -> &mut Vec<T> {
        if let Table::Frozen(_) = self {
            *self = Table::Built(self.iter().collect());
        }
        match self {
            Table::Built(rows) => rows,
            Table::Frozen(_) => unreachable!("copied out just above"),
        }
    }
}

impl<T: Words> Table<T> {
    /// Word `w` of row `i`, without decoding the rest of the row: a search that looks at
    /// one field of many rows (a key, a sibling link) reads only that.
    #[inline]
    pub(super) fn word(&self, i: usize, w: usize) -> u32 {
        match self {
            Table::Built(rows) => rows[i].word(w),
            Table::Frozen(bytes) => word(bytes, i * T::WORDS + w),
        }
    }
}

/// Equal when the rows are, however they are stored.
impl<T: Row + PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Row + Eq> Eq for Table<T> {}

/// (entry, next output of the same node): a trie's output lists.
impl Row for (u32, u32) {
    const WORDS: usize = 2;
    fn read(bytes: &[u8]) -> Self {
        (word(bytes, 0), word(bytes, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_rows_read_as_built_ones() {
        let built: Table<(u32, u32)> = Table::Built(vec![(1, 2), (3, u32::MAX)]);
        let bytes: Vec<u8> = [1u32, 2, 3, u32::MAX]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let mut frozen = Table::<(u32, u32)>::frozen(Cow::Owned(bytes)).unwrap();
        assert_eq!(frozen.len(), 2);
        assert_eq!(frozen.get(1), (3, u32::MAX));
        assert_eq!(frozen, built);
        frozen.to_mut().push((5, 6));
        assert_eq!(frozen.len(), 3);
        assert!(Table::<(u32, u32)>::frozen(Cow::Borrowed(&[0u8; 12])).is_none());
    }
}
