//! Staff accounts over the API (supervisors only).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, get, post, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::{AuthError, StaffUser};
use super::blocking;
use super::error::{ErrorBody, internal, json_error};
use crate::db::DbError;
use crate::desk::audit;
use crate::desk::staff::{self as accounts, AccountError};
use crate::state::AppState;

#[derive(Debug)]
pub enum StaffError {
    Auth(AuthError),
    Account(AccountError),
    NotFound,
    NotYourself,
}

impl std::fmt::Display for StaffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "{e}"),
            Self::Account(e) => write!(f, "{e}"),
            Self::NotFound => write!(f, "no such staff account"),
            Self::NotYourself => write!(f, "you cannot deactivate your own account"),
        }
    }
}

impl From<AuthError> for StaffError {
    fn from(e: AuthError) -> Self {
        Self::Auth(e)
    }
}

impl From<DbError> for StaffError {
    fn from(e: DbError) -> Self {
        Self::Account(AccountError::Db(e))
    }
}

impl From<diesel::result::Error> for StaffError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Account(AccountError::Db(e.into()))
    }
}

impl ResponseError for StaffError {
    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Auth(e) => e.error_response(),
            Self::Account(AccountError::Invalid(fields)) => {
                let map: std::collections::BTreeMap<_, _> = fields.iter().copied().collect();
                HttpResponse::UnprocessableEntity().json(json!({"error": {
                    "code": "validation_failed", "message": "some fields are invalid", "fields": map}}))
            }
            Self::Account(AccountError::Exists) => json_error(
                StatusCode::CONFLICT,
                "exists",
                "a staff account with that email exists already",
            ),
            Self::NotFound => {
                json_error(StatusCode::NOT_FOUND, "not_found", "no such staff account")
            }
            Self::NotYourself => json_error(
                StatusCode::CONFLICT,
                "own_account",
                "you cannot deactivate your own account",
            ),
            Self::Account(e) => internal("staff account change failed", e),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewStaffRequest {
    email: String,
    name: String,
    /// `counsellor` or `supervisor`.
    role: String,
    /// At least 10 characters.
    password: String,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = NewStaffRequest,
    responses(
        (status = 201, description = "Created"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/staff")]
pub async fn create(
    state: web::Data<AppState>,
    user: StaffUser,
    body: web::Json<NewStaffRequest>,
) -> Result<HttpResponse, StaffError> {
    user.require_supervisor()?;
    let NewStaffRequest {
        email,
        name,
        role,
        password,
    } = body.into_inner();
    let st = state.clone();
    let (id, role) = blocking(&state, move |conn| {
        let now = st.time.now();
        let id = accounts::create(conn, &email, &name, &role, &password, now)
            .map_err(StaffError::Account)?;
        let target = format!("staff:{}", id.0);
        let detail = format!("role={role}");
        audit(
            conn,
            &user.actor,
            now,
            "staff.create",
            None,
            Some(&target),
            Some(&detail),
        )?;
        Ok::<_, StaffError>((id, role))
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({"id": id.0, "role": role})))
}

fn record(
    conn: &mut crate::db::DbConn,
    user: &StaffUser,
    at: chrono::DateTime<chrono::Utc>,
    action: &str,
    staff_id: i64,
) -> Result<(), DbError> {
    let target = format!("staff:{staff_id}");
    audit(conn, &user.actor, at, action, None, Some(&target), None)
}

#[derive(serde::Serialize, ToSchema)]
pub struct StaffListItem {
    id: i64,
    email: String,
    name: String,
    role: String,
    active: bool,
    created_at: String,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every staff account", body = Vec<StaffListItem>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    )
)]
#[get("/staff")]
pub async fn list(state: web::Data<AppState>, user: StaffUser) -> Result<HttpResponse, StaffError> {
    user.require_supervisor()?;
    let rows = blocking(&state, move |conn| {
        Ok::<_, StaffError>(crate::db::staff::list(conn)?)
    })
    .await?;
    let items: Vec<StaffListItem> = rows
        .into_iter()
        .map(|r| StaffListItem {
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            active: r.active,
            created_at: super::local_time(&state, crate::db::from_db(r.created_at)),
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

async fn set_active(
    state: web::Data<AppState>,
    user: StaffUser,
    id: i64,
    active: bool,
) -> Result<HttpResponse, StaffError> {
    user.require_supervisor()?;
    if !active && id == user.actor.staff_id {
        return Err(StaffError::NotYourself);
    }
    let st = state.clone();
    blocking(&state, move |conn| {
        crate::db::write_tx(conn, |conn| {
            let now = st.time.now();
            if !crate::db::staff::set_active(conn, id, active, now)? {
                return Err(StaffError::NotFound);
            }
            if !active {
                crate::db::staff::revoke_sessions(conn, id, now)?;
            }
            let action = if active {
                "staff.reactivate"
            } else {
                "staff.deactivate"
            };
            record(conn, &user, now, action, id)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Staff id")),
    responses(
        (status = 204, description = "Deactivated: it cannot sign in, and its sign-ins end now; its tickets show as needing reassignment"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
#[post("/staff/{id}/deactivate")]
pub async fn deactivate(
    state: web::Data<AppState>,
    user: StaffUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, StaffError> {
    set_active(state, user, id.into_inner(), false).await
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Staff id")),
    responses(
        (status = 204, description = "Reactivated"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[post("/staff/{id}/reactivate")]
pub async fn reactivate(
    state: web::Data<AppState>,
    user: StaffUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, StaffError> {
    set_active(state, user, id.into_inner(), true).await
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// At least 10 characters.
    password: String,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Staff id")),
    request_body = PasswordRequest,
    responses(
        (status = 204, description = "The password is reset and the account's sign-ins end"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/staff/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    user: StaffUser,
    id: web::Path<i64>,
    body: web::Json<PasswordRequest>,
) -> Result<HttpResponse, StaffError> {
    user.require_supervisor()?;
    let id = id.into_inner();
    let password = body.into_inner().password;
    let st = state.clone();
    blocking(&state, move |conn| {
        let hash = crate::desk::auth::passwords::hash(&password).map_err(|e| match e {
            crate::desk::auth::passwords::PasswordError::TooShort => {
                StaffError::Account(AccountError::Invalid(vec![("password", "too_short")]))
            }
            other => StaffError::Account(AccountError::Hashing(other.to_string())),
        })?;
        crate::db::write_tx(conn, |conn| {
            let now = st.time.now();
            if !crate::db::staff::set_password(conn, id, &hash)? {
                return Err(StaffError::NotFound);
            }
            crate::db::staff::revoke_sessions(conn, id, now)?;
            record(conn, &user, now, "staff.password_reset", id)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
