//! Staff accounts, for the command line and the API alike.

use chrono::{DateTime, Utc};

use super::auth::passwords::{self, PasswordError};
use crate::db::staff::{self, NewStaff, StaffId};
use crate::db::{DbConn, DbError, to_db};
use crate::domain::consultation::normalise_email;

pub const ROLES: [&str; 2] = ["counsellor", "supervisor"];

#[derive(Debug)]
pub enum AccountError {
    /// Offending fields with a code each.
    Invalid(Vec<(&'static str, &'static str)>),
    Exists,
    Db(DbError),
    Hashing(String),
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(fields) => {
                let text: Vec<String> = fields.iter().map(|(f, c)| format!("{f}: {c}")).collect();
                write!(f, "{}", text.join(", "))
            }
            Self::Exists => write!(f, "a staff account with that email exists already"),
            Self::Db(e) => write!(f, "{e}"),
            Self::Hashing(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AccountError {}

pub fn create(
    conn: &mut DbConn,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<StaffId, AccountError> {
    let mut invalid = Vec::new();
    let email = normalise_email(email);
    if email.is_none() {
        invalid.push(("email", "invalid"));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        invalid.push(("name", "invalid"));
    }
    if !ROLES.contains(&role) {
        invalid.push(("role", "invalid"));
    }
    let hash = match passwords::hash(password) {
        Ok(h) => Some(h),
        Err(PasswordError::TooShort) => {
            invalid.push(("password", "too_short"));
            None
        }
        Err(e) => return Err(AccountError::Hashing(e.to_string())),
    };
    let (Some(email), Some(hash)) = (email, hash) else {
        return Err(AccountError::Invalid(invalid));
    };
    if !invalid.is_empty() {
        return Err(AccountError::Invalid(invalid));
    }
    staff::create(
        conn,
        &NewStaff {
            email: &email,
            name,
            role,
            password_hash: &hash,
            active: true,
            created_at: to_db(now),
        },
    )
    .map_err(|e| {
        if e.is_unique_violation() {
            AccountError::Exists
        } else {
            AccountError::Db(e)
        }
    })
}
