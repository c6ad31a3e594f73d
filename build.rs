//! Indexes the shipped triage lists at build time (see `src/domain/triage/frozen.rs`): the
//! binary then reads the index back instead of expanding some 80,000 phrases in every process.

#[allow(dead_code, unused_imports)]
#[path = "src/domain/triage/offline.rs"]
mod triage;

fn main() {
    // The binary is linked position-dependent. An MTA starts one `ingest` per mail, and a
    // position-independent binary of this size has some 57,000 relocations: every process
    // then writes 1.4 MB of pointer tables before `main` (some 350 page copies, half of an
    // `ingest`'s CPU: 3.6 ms against 1.7 ms). The cost is the binary's own code at a fixed
    // address (its libraries, heap and stack stay randomised). BENCHMARKS.md, issue 16.
    println!("cargo:rustc-link-arg-bins=-no-pie");
    for path in [
        "config/triage",
        "src/domain/triage/category.rs",
        "src/domain/triage/frozen.rs",
        "src/domain/triage/model.rs",
        "src/domain/triage/normalise.rs",
        "src/domain/triage/offline.rs",
        "src/domain/triage/phrases.rs",
        "src/domain/triage/table.rs",
        "src/domain/triage/trie.rs",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
    let out = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let path = std::path::Path::new(&out).join("triage_builtin.bin");
    std::fs::write(&path, triage::builtin_index_bytes()).expect("write the triage index");

    // The n-gram model, trained on the labelled sets named in `model.rs` (held-out sets are
    // never read here).
    let sets: Vec<String> = triage::TRAINING_SETS
        .iter()
        .map(|name| {
            let path = format!("tests/data/triage/{name}");
            println!("cargo:rerun-if-changed={path}");
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect();
    let path = std::path::Path::new(&out).join("triage_model.bin");
    std::fs::write(&path, triage::model_bytes(&sets)).expect("write the triage model");
}
