//! Staff sign-in: passwords, tokens and sessions.

pub mod passwords;
pub mod tokens;
