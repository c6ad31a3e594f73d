//! Staff passwords, stored only as argon2id hashes.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Short passwords are refused: these accounts open sensitive mental-health records.
pub const MIN_LENGTH: usize = 10;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    hash_secret(password)
}

/// An argon2id hash of any secret, whatever its length (a consulter's passphrase has rules
/// of its own, checked before).
pub fn hash_secret(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// False for a wrong password and for a stored hash that cannot be read.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The working memory of one check (19 MiB at the default cost), kept by a checking thread
/// from one check to the next: allocated once, it is never left behind in the allocator.
pub struct CheckMemory(Vec<argon2::Block>);

impl Default for CheckMemory {
    fn default() -> Self {
        Self(vec![
            argon2::Block::default();
            argon2::Params::default().block_count()
        ])
    }
}

/// As [`verify`], in memory the caller keeps.
pub fn verify_with(password: &str, stored: &str, memory: &mut CheckMemory) -> bool {
    use argon2::{Algorithm, Params, Version};
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Some(salt), Some(expected), Ok(params)) = (
        Algorithm::try_from(h.algorithm.as_str()),
        h.salt.as_ref(),
        h.hash.as_ref(),
        Params::try_from(&h),
    ) else {
        return false;
    };
    let Ok(version) = h.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    if memory.0.len() < params.block_count() {
        memory
            .0
            .resize(params.block_count(), argon2::Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt.as_ref(),
        &mut out,
        &mut memory.0[..],
    );
    // Every byte compared, whatever the first difference: no timing hint.
    computed.is_ok()
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_with_kept_memory_agrees_with_verify() {
        let mut memory = CheckMemory::default();
        let stored = hash("a long test password").unwrap();
        assert!(verify_with("a long test password", &stored, &mut memory));
        assert!(!verify_with("a long test passworD", &stored, &mut memory));
        assert!(!verify_with(
            "a long test password",
            "not a hash",
            &mut memory
        ));
        // A hash made at a higher cost than the default still checks.
        let dear = argon2::Params::new(32 * 1024, 2, 1, None).unwrap();
        let dear = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, dear)
            .hash_password("another long password".as_bytes())
            .unwrap()
            .to_string();
        assert!(verify_with("another long password", &dear, &mut memory));
        assert!(verify("another long password", &dear));
    }

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("anything", "not a hash"));
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
    }
}
