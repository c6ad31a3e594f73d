//! Staff accounts over the API (supervisors only).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, post, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::{AuthError, StaffUser};
use super::blocking;
use super::error::{ErrorBody, internal, json_error};
use crate::accounts::{self, AccountError};
use crate::db::DbError;
use crate::db::audit::{self, AuditEvent};
use crate::state::AppState;

#[derive(Debug)]
pub enum StaffError {
    Auth(AuthError),
    Account(AccountError),
}

impl std::fmt::Display for StaffError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Auth(e) => write!(f, "{e}"),
            Self::Account(e) => write!(f, "{e}"),
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
            Self::Account(e) => internal("staff account creation failed", e),
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
        audit::record(
            conn,
            &AuditEvent {
                at: now,
                staff_id: Some(user.actor.staff_id),
                action: "staff.create",
                ticket_id: None,
                target: Some(&target),
                client_addr: Some(&user.actor.client_addr),
                detail: Some(&format!("role={role}")),
            },
        )?;
        Ok::<_, StaffError>((id, role))
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({"id": id.0, "role": role})))
}
