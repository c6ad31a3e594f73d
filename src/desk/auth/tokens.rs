//! Sign-in tokens: 256 random bits for the client, only their SHA-256 in the database, so a
//! leaked database holds no usable token.

use sha2::{Digest, Sha256};

use crate::random;

pub fn new_token() -> String {
    random::hex_string::<32>()
}

pub fn hash(token: &str) -> String {
    random::hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_hashed() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hash(&a), a);
    }
}
