//! The build script's view of triage (`build.rs` loads this file): just what it takes to compile
//! the shipped lists and write them out for `frozen::decode`.

#[path = "category.rs"]
mod category;
#[path = "compiled.rs"]
mod compiled;
#[path = "frozen.rs"]
mod frozen;
#[path = "normalise.rs"]
mod normalise;
#[path = "phrases.rs"]
mod phrases;
#[path = "table.rs"]
mod table;
#[path = "trie.rs"]
mod trie;

pub use category::Category;

/// Nothing is indexed yet while the index is being made: the lists are compiled from text.
fn builtin_index() -> &'static [u8] {
    &[]
}

/// The shipped lists, compiled and encoded; checked whole here, once, since the binary uses
/// them without checking (`frozen::builtin`).
pub fn builtin_index_bytes() -> Vec<u8> {
    let bytes = frozen::encode(phrases::PhraseLists::builtin().compiled());
    assert!(
        frozen::decode(&bytes).is_some(),
        "the triage index does not read back whole"
    );
    bytes
}
