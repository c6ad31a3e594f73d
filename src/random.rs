//! Randomness from the operating system, for references, tokens and Message-IDs.

/// Fills an array from the OS. The OS source failing is unrecoverable for a service whose
/// tokens and references must not be guessable, so it stops the process rather than go on.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("the operating system gave no randomness: {e}");
    }
    buf
}
