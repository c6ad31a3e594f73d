//! Randomness from the operating system, for references, tokens and Message-IDs, and the hex
//! in which such bytes (and digests) are written out.

/// Fills an array from the OS. The OS source failing is unrecoverable for a service whose
/// tokens and references must not be guessable, so it stops the process rather than go on.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("the operating system gave no randomness: {e}");
    }
    buf
}

/// `N` random bytes as `2 × N` lower-case hex digits.
pub fn hex_string<const N: usize>() -> String {
    hex(&bytes::<N>())
}

/// Lower-case hex, two digits a byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        let r = hex_string::<8>();
        assert_eq!(r.len(), 16);
        assert_ne!(r, hex_string::<8>());
    }
}
