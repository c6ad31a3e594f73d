//! Staff sign-in: throttled password checks, sessions by token, and sign-out. Every sign-in
//! and sign-out is audited.

pub mod checker;
pub mod passwords;
pub mod tokens;

use chrono::{DateTime, Duration};

use super::{Actor, DeskError, audit};
use crate::db::staff::{self, StaffRow};
use crate::db::{DbConn, from_db, login_failures, sessions};
use crate::domain::consultation::normalise_email;
use crate::domain::vocabulary::{Role, SessionId, StaffId};
use crate::state::AppState;

/// Keeps "unknown account" as slow as "wrong password", so timing does not reveal accounts.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
    0mSIZu9BAyOIqxVlG5IqxOs5NobTCbf5Z4XoKIq6tuc";
/// Sign-ins are remembered this long without use before `last_seen_at` is written again.
const TOUCH_EVERY: i64 = 60;
/// An office shares one address among several people: it gets this many times an account's
/// allowance before it is cooled off.
const ADDRESS_FACTOR: i64 = 4;

/// A staff member signed in with a valid token.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub session_id: SessionId,
}

/// A new sign-in: the token is shown to the client once and kept only hashed.
pub struct SignedIn {
    pub token: String,
    pub expires_at: DateTime<chrono::Utc>,
    pub staff_id: StaffId,
    pub name: String,
    pub role: Role,
}

/// How long a sign-in lasts unused.
pub fn idle(state: &AppState) -> Duration {
    Duration::hours(i64::from(state.settings.auth.session_idle_hours))
}

/// How long a sign-in lasts at most, used or not.
pub fn lifetime(state: &AppState) -> Duration {
    Duration::hours(i64::from(state.settings.auth.session_max_hours))
}

/// How long a sign-in waits for a free password check before it is told to come back.
pub(crate) const CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Checks the password, cooling off an account at an address, or an address, after repeated
/// failures. Takes its own connections, a moment each: none is held while the password is
/// checked, so a flood of sign-ins cannot starve the rest of the service of connections.
pub fn sign_in(
    state: &AppState,
    email: &str,
    password: &str,
    addr: &str,
) -> Result<SignedIn, DeskError> {
    let account = normalise_email(email).unwrap_or_else(|| email.trim().to_lowercase());
    let now = state.time.now();
    let cooling = Duration::minutes(i64::from(state.settings.auth.cooling_off_minutes));
    let allowed = i64::from(state.settings.auth.max_failed_logins);
    let (place, staff) = {
        let mut conn = state.pool.get().map_err(crate::db::DbError::from)?;
        let place = login_failures::reserve(
            &mut conn,
            &account,
            addr,
            now - cooling,
            now,
            allowed,
            allowed * ADDRESS_FACTOR,
        )?
        .ok_or(DeskError::Throttled {
            retry_after_seconds: cooling.num_seconds(),
        })?;
        (place, staff::by_email(&mut conn, &account)?)
    };
    let hash = staff
        .as_ref()
        .map_or(DUMMY_HASH, |s| s.password_hash.as_str());
    let checked = state.password_checker.verify(password, hash, CHECK_WAIT);
    let mut conn = state.pool.get().map_err(crate::db::DbError::from)?;
    let staff = match (checked, staff) {
        (None, _) => {
            // Never judged: it is no failure, and the place goes back.
            login_failures::release(&mut conn, place)?;
            return Err(DeskError::Busy);
        }
        (Some(true), Some(s)) if s.active => s,
        // The place taken stays: it is the failure, recorded.
        _ => return Err(DeskError::WrongCredentials),
    };
    let conn = &mut *conn;
    login_failures::release(conn, place)?;
    let token = tokens::new_token();
    login_failures::clear(conn, &account, addr)?;
    sessions::create(conn, staff.id, &tokens::hash(&token), now, addr)?;
    let role = staff.role;
    let actor = actor(staff, addr.to_string());
    audit(conn, &actor, now, "auth.login", None, None, None)?;
    Ok(SignedIn {
        token,
        expires_at: now + idle(state).min(lifetime(state)),
        staff_id: actor.staff_id,
        name: actor.name,
        role,
    })
}

/// The session a bearer token stands for, if it is still valid; its use is noted.
pub fn authenticate(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
    client_addr: String,
) -> Result<Session, DeskError> {
    let sessions::SignIn { session, staff } =
        sessions::by_token(conn, &tokens::hash(token))?.ok_or(DeskError::InvalidToken)?;
    let now = state.time.now();
    let last_seen = from_db(session.last_seen_at);
    if session.revoked_at.is_some() || !staff.active {
        return Err(DeskError::InvalidToken);
    }
    if last_seen + idle(state) <= now || from_db(session.created_at) + lifetime(state) <= now {
        return Err(DeskError::Expired);
    }
    if now - last_seen > Duration::seconds(TOUCH_EVERY) {
        sessions::touch(conn, session.id, now)?;
    }
    Ok(Session {
        actor: actor(staff, client_addr),
        session_id: session.id,
    })
}

fn actor(staff: StaffRow, client_addr: String) -> Actor {
    Actor {
        staff_id: staff.id,
        role: staff.role,
        name: staff.name,
        client_addr,
    }
}

/// Revokes the token.
pub fn sign_out(state: &AppState, conn: &mut DbConn, session: &Session) -> Result<(), DeskError> {
    let now = state.time.now();
    sessions::revoke(conn, session.session_id, now)?;
    audit(conn, &session.actor, now, "auth.logout", None, None, None)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_argon2_hash() {
        // Were it unreadable, a missing account would answer faster than a wrong password.
        use argon2::password_hash::phc::PasswordHash;
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!passwords::verify("anything", DUMMY_HASH));
    }
}
