//! The build script's view of triage (`build.rs` loads this file): just what it takes to compile
//! the shipped lists and write them out for `frozen::decode`.

#[path = "category.rs"]
mod category;
#[path = "compiled.rs"]
mod compiled;
#[path = "frozen.rs"]
mod frozen;
#[path = "model.rs"]
mod model;
#[path = "normalise.rs"]
mod normalise;
#[path = "phrases.rs"]
mod phrases;
#[path = "table.rs"]
mod table;
#[path = "trie.rs"]
mod trie;

pub use category::Category;
pub use model::TRAINING_SETS;

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

/// The n-gram model trained on `sets` (the text of each of [`TRAINING_SETS`]), encoded for
/// `model::Model::frozen`; checked here to read back in order.
pub fn model_bytes(sets: &[String]) -> Vec<u8> {
    let rows: Vec<_> = sets.iter().flat_map(|s| model::labelled_rows(s)).collect();
    let trained = model::Model::train(rows.iter().map(|(t, l)| (*t, l.as_slice())));
    let bytes = trained.encode();
    let leaked: &'static [u8] = Box::leak(bytes.clone().into_boxed_slice());
    let back = model::Model::frozen(leaked).expect("the triage model reads back");
    assert!(
        back.is_sorted() && back.is_indexed() && back.len() == trained.len(),
        "the triage model does not read back whole"
    );
    bytes
}
