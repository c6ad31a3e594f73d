//! Staff accounts, for the command line and the API alike.

use chrono::{DateTime, Utc};

use super::auth::passwords::{self, PasswordError};
use super::{Actor, DeskError, audit};
use crate::db::staff::{self, NewStaff};
use crate::db::{DbConn, sessions, tickets, to_db, write_tx};
use crate::domain::consultation::normalise_email;
use crate::domain::vocabulary::{Role, StaffId};
use crate::state::AppState;

/// Creates an account; every field is checked and each offending one named.
pub fn create(
    conn: &mut DbConn,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<StaffId, DeskError> {
    let mut invalid = Vec::new();
    let email = normalise_email(email);
    if email.is_none() {
        invalid.push(("email", "invalid"));
    }
    let name = name.trim();
    // A name must show something: not only spaces or control characters (as the schema says).
    if !name.chars().any(|c| !c.is_whitespace() && !c.is_control()) || name.chars().count() > 100 {
        invalid.push(("name", "invalid"));
    }
    let role: Option<Role> = role.parse().ok();
    if role.is_none() {
        invalid.push(("role", "invalid"));
    }
    let hash = match passwords::hash(password) {
        Ok(h) => Some(h),
        Err(PasswordError::TooShort) => {
            invalid.push(("password", "too_short"));
            None
        }
        Err(e) => return Err(DeskError::Hashing(e.to_string())),
    };
    let (Some(email), Some(hash), Some(role)) = (email, hash, role) else {
        return Err(DeskError::Invalid(invalid));
    };
    if !invalid.is_empty() {
        return Err(DeskError::Invalid(invalid));
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
            DeskError::AccountExists
        } else {
            DeskError::Db(e)
        }
    })
}

/// A supervisor creates an account; audited with its role.
pub fn create_by(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
) -> Result<StaffId, DeskError> {
    let now = state.time.now();
    let id = create(conn, email, name, role, password, now)?;
    let target = format!("staff:{}", id.0);
    let detail = format!("role={role}");
    audit(
        conn,
        actor,
        now,
        "staff.create",
        None,
        Some(&target),
        Some(&detail),
    )?;
    Ok(id)
}

/// Deactivating ends the account's sign-ins at once; nobody may deactivate themselves.
pub fn set_active(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: StaffId,
    active: bool,
) -> Result<(), DeskError> {
    if !active && id == actor.staff_id {
        return Err(DeskError::OwnAccount);
    }
    write_tx(conn, |conn| {
        let now = state.time.now();
        if !staff::set_active(conn, id, active, now)? {
            return Err(DeskError::NotFound("staff account"));
        }
        if !active {
            sessions::revoke_all_of(conn, id, now)?;
        }
        let action = if active {
            "staff.reactivate"
        } else {
            "staff.deactivate"
        };
        audit_staff(conn, actor, now, action, id)
    })
}

/// A supervisor turns review of a counsellor's replies on or off (CONTRACT §8); audited.
/// Supervisors' own replies are never held, so the flag is refused for them.
pub fn set_review(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: StaffId,
    on: bool,
) -> Result<(), DeskError> {
    actor.require_supervisor()?;
    write_tx(conn, |conn| {
        let now = state.time.now();
        match staff::role_of(conn, id)? {
            None => return Err(DeskError::NotFound("staff account")),
            Some(Role::Supervisor) if on => {
                return Err(DeskError::Invalid(vec![(
                    "review_replies",
                    "supervisor_never_reviewed",
                )]));
            }
            Some(_) => {}
        }
        staff::set_review_replies(conn, id, on)?;
        let target = format!("staff:{id}");
        let detail = format!("review_replies={on}");
        Ok(audit(
            conn,
            actor,
            now,
            "staff.review_replies",
            None,
            Some(&target),
            Some(&detail),
        )?)
    })
}

/// A new password ends every sign-in of the account.
pub fn reset_password(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    id: StaffId,
    password: &str,
) -> Result<(), DeskError> {
    // Hashed before the transaction: argon2 takes a while and must not hold the write lock.
    let hash = passwords::hash(password).map_err(|e| match e {
        PasswordError::TooShort => DeskError::Invalid(vec![("password", "too_short")]),
        other => DeskError::Hashing(other.to_string()),
    })?;
    write_tx(conn, |conn| {
        let now = state.time.now();
        if !staff::set_password(conn, id, &hash)? {
            return Err(DeskError::NotFound("staff account"));
        }
        sessions::revoke_all_of(conn, id, now)?;
        audit_staff(conn, actor, now, "staff.password_reset", id)
    })
}

fn audit_staff(
    conn: &mut DbConn,
    actor: &Actor,
    now: DateTime<Utc>,
    action: &str,
    staff_id: StaffId,
) -> Result<(), DeskError> {
    let target = format!("staff:{staff_id}");
    Ok(audit(conn, actor, now, action, None, Some(&target), None)?)
}

/// The active staff, by id, for the console's assignee choices: names only.
pub fn colleagues(conn: &mut DbConn) -> Result<Vec<(StaffId, String)>, DeskError> {
    Ok(staff::list(conn)?
        .into_iter()
        .filter(|s| s.active)
        .map(|s| (s.id, s.name))
        .collect())
}

/// Hands every open ticket of one account (a counsellor who left) to an active colleague, in
/// one transaction, each ticket audited as an assignment. Answers how many moved.
pub fn reassign_open(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
    from: StaffId,
    to: StaffId,
) -> Result<usize, DeskError> {
    actor.require_supervisor()?;
    if from == to {
        return Err(DeskError::Invalid(vec![("to", "same_account")]));
    }
    write_tx(conn, |conn| {
        let now = state.time.now();
        if !staff::is_active(conn, to)? {
            return Err(DeskError::Invalid(vec![("to", "not_active_staff")]));
        }
        let ids = tickets::open_assigned_to(conn, from)?;
        let detail = format!("assignee={to} from={from}");
        for id in &ids {
            tickets::assign(conn, *id, Some(to), now)?;
            audit(
                conn,
                actor,
                now,
                "ticket.assign",
                Some(*id),
                None,
                Some(&detail),
            )?;
        }
        Ok(ids.len())
    })
}

/// Every account, for the supervisors' staff page; the read is audited.
pub fn list(
    state: &AppState,
    conn: &mut DbConn,
    actor: &Actor,
) -> Result<Vec<staff::StaffListRow>, DeskError> {
    actor.require_supervisor()?;
    let rows = staff::list(conn)?;
    let detail = format!("count={}", rows.len());
    audit(
        conn,
        actor,
        state.time.now(),
        "staff.list",
        None,
        None,
        Some(&detail),
    )?;
    Ok(rows)
}
