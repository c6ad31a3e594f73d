//! Sign-in, sign-out, and the extractor that turns a bearer token into a staff member.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ErrorBody, internal, json_error};
use super::{client_addr, local_time};
use crate::db::audit::{self, AuditEvent};
use crate::db::{DbConn, DbError, from_db, sessions};
use crate::desk::Actor;
use crate::desk::auth::{passwords, tokens};
use crate::domain::consultation::normalise_email;
use crate::state::AppState;

/// Keeps "unknown account" as slow as "wrong password", so timing does not reveal accounts.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
    0mSIZu9BAyOIqxVlG5IqxOs5NobTCbf5Z4XoKIq6tuc";
/// Sign-ins are remembered this long without use before `last_seen_at` is written again.
const TOUCH_EVERY: i64 = 60;
/// An office shares one address among several people: it gets this many times an account's
/// allowance before it is cooled off.
const ADDRESS_FACTOR: i64 = 4;

#[derive(Debug)]
pub enum AuthError {
    Missing,
    Invalid,
    Expired,
    WrongCredentials,
    Throttled(i64),
    Forbidden(&'static str),
    Unavailable,
    Internal(String),
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self)
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Invalid | Self::Expired | Self::WrongCredentials => {
                StatusCode::UNAUTHORIZED
            }
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = match self {
            Self::Missing => json_error(status, "unauthenticated", "sign in first"),
            Self::Invalid => json_error(status, "invalid_token", "the token is not valid"),
            Self::Expired => json_error(status, "token_expired", "the sign-in has expired"),
            Self::WrongCredentials => {
                json_error(status, "invalid_credentials", "wrong email or password")
            }
            Self::Throttled(_) => json_error(
                status,
                "too_many_attempts",
                "too many failed sign-ins; wait a while before trying again",
            ),
            Self::Forbidden(why) => json_error(status, "forbidden", why),
            Self::Unavailable => json_error(status, "unavailable", "try again shortly"),
            Self::Internal(e) => return internal("sign-in failed", e),
        };
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if let Self::Throttled(seconds) = self
            && let Ok(v) = header::HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<DbError> for AuthError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// A signed-in staff member. Handlers that take it answer 401 without a valid token.
pub struct StaffUser {
    pub actor: Actor,
    pub session_id: i64,
}

impl StaffUser {
    pub fn require_supervisor(&self) -> Result<(), AuthError> {
        if self.actor.supervisor {
            Ok(())
        } else {
            Err(AuthError::Forbidden("only supervisors may do this"))
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

impl FromRequest for StaffUser {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let addr = client_addr(req);
        Box::pin(async move {
            let token = token.ok_or(AuthError::Missing)?;
            let state = state.ok_or_else(|| AuthError::Internal("no app state".into()))?;
            web::block(move || {
                let mut conn = state.pool.get().map_err(DbError::from)?;
                authenticate(&state, &mut conn, &token, addr)
            })
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?
        })
    }
}

fn authenticate(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
    client_addr: String,
) -> Result<StaffUser, AuthError> {
    let (session, staff) =
        sessions::by_token(conn, &tokens::hash(token))?.ok_or(AuthError::Invalid)?;
    let now = state.time.now();
    let last_seen = from_db(session.last_seen_at);
    if session.revoked_at.is_some() || !staff.active {
        return Err(AuthError::Invalid);
    }
    if last_seen + idle(state) <= now {
        return Err(AuthError::Expired);
    }
    if now - last_seen > Duration::seconds(TOUCH_EVERY) {
        sessions::touch(conn, session.id, now)?;
    }
    Ok(StaffUser {
        actor: Actor {
            staff_id: staff.id,
            name: staff.name,
            supervisor: staff.role == "supervisor",
            client_addr,
        },
        session_id: session.id,
    })
}

fn idle(state: &AppState) -> Duration {
    Duration::hours(i64::from(state.settings.auth.session_idle_hours))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub id: i64,
    pub name: String,
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    token: String,
    expires_at: String,
    staff: StaffOut,
}

struct SignedIn {
    token: String,
    expires_at: DateTime<Utc>,
    staff: StaffOut,
}

#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins", body = ErrorBody),
    )
)]
#[post("/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, AuthError> {
    let addr = client_addr(&req);
    let LoginRequest { email, password } = body.into_inner();
    let account = normalise_email(&email).unwrap_or_else(|| email.trim().to_lowercase());
    let st = state.clone();
    let signed_in = web::block(move || {
        let mut conn = st.pool.get().map_err(DbError::from)?;
        sign_in(&st, &mut conn, &account, &password, &addr)
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))??;
    Ok(HttpResponse::Ok().json(LoginResponse {
        token: signed_in.token,
        expires_at: local_time(&state, signed_in.expires_at),
        staff: signed_in.staff,
    }))
}

fn sign_in(
    state: &AppState,
    conn: &mut DbConn,
    account: &str,
    password: &str,
    addr: &str,
) -> Result<SignedIn, AuthError> {
    let now = state.time.now();
    let cooling = Duration::minutes(i64::from(state.settings.auth.cooling_off_minutes));
    let allowed = i64::from(state.settings.auth.max_failed_logins);
    let (by_account, by_addr) = sessions::recent_failures(conn, account, addr, now - cooling)?;
    if by_account >= allowed || by_addr >= allowed * ADDRESS_FACTOR {
        return Err(AuthError::Throttled(cooling.num_seconds()));
    }
    let staff = sessions::staff_by_email(conn, account)?;
    let hash = staff
        .as_ref()
        .map_or(DUMMY_HASH, |s| s.password_hash.as_str());
    let password_ok = passwords::verify(password, hash);
    let staff = match staff {
        Some(s) if password_ok && s.active => s,
        _ => {
            sessions::record_failure(conn, account, addr, now)?;
            return Err(AuthError::WrongCredentials);
        }
    };
    let token = tokens::new_token();
    sessions::clear_failures(conn, account)?;
    sessions::create(conn, staff.id, &tokens::hash(&token), now, addr)?;
    audit::record(
        conn,
        &AuditEvent {
            at: now,
            staff_id: Some(staff.id),
            action: "auth.login",
            ticket_id: None,
            target: None,
            client_addr: Some(addr),
            detail: None,
        },
    )?;
    Ok(SignedIn {
        token,
        expires_at: now + idle(state),
        staff: StaffOut {
            id: staff.id,
            name: staff.name,
            role: staff.role,
        },
    })
}

#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    user: StaffUser,
) -> Result<HttpResponse, AuthError> {
    web::block(move || {
        let mut conn = state.pool.get().map_err(DbError::from)?;
        let now = state.time.now();
        sessions::revoke(&mut conn, user.session_id, now)?;
        crate::desk::audit(&mut conn, &user.actor, now, "auth.logout", None, None, None)?;
        Ok::<(), AuthError>(())
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))??;
    Ok(HttpResponse::NoContent().finish())
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
