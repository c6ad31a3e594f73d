//! Staff accounts over the API (supervisors only).

use actix_web::{HttpResponse, get, patch, post, web};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::blocking;
use super::error::{ApiError, ErrorBody};
use crate::desk;
use crate::desk::auth::Session;
use crate::domain::vocabulary::{Role, StaffId};
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct NewStaffRequest {
    #[schema(
        pattern = r"^\s*[!-;=?A-~]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\s*$",
        max_length = 254
    )]
    email: String,
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 100)]
    name: String,
    /// `counsellor` or `supervisor`.
    #[schema(value_type = crate::domain::vocabulary::Role)]
    role: String,
    /// At least 10 characters.
    #[schema(min_length = 10)]
    password: String,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    request_body = NewStaffRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 201, description = "Created"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/staff")]
pub async fn create(
    state: web::Data<AppState>,
    user: Session,
    body: AfterAuth<web::Json<NewStaffRequest>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let NewStaffRequest {
        email,
        name,
        role,
        password,
    } = body.into_inner();
    let (id, role) = blocking(&state, move |st, conn| {
        let id = desk::staff::create_by(st, conn, &user.actor, &email, &name, &role, &password)?;
        Ok::<_, ApiError>((id, role))
    })
    .await?;
    Ok(HttpResponse::Created().json(json!({"id": id.0, "role": role})))
}

#[derive(serde::Serialize, ToSchema)]
pub struct StaffListItem {
    #[schema(value_type = i64)]
    id: StaffId,
    email: String,
    name: String,
    role: Role,
    active: bool,
    created_at: String,
    /// Its replies wait for a supervisor's review before they go out (CONTRACT §8).
    review_replies: bool,
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
pub async fn list(state: web::Data<AppState>, user: Session) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let rows = blocking(&state, |_, conn| crate::db::staff::list(conn)).await?;
    let items: Vec<StaffListItem> = rows
        .into_iter()
        .map(|r| StaffListItem {
            id: r.id,
            email: r.email,
            name: r.name,
            role: r.role,
            active: r.active,
            created_at: super::local_time(&state, crate::db::from_db(r.created_at)),
            review_replies: r.review_replies,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

async fn set_active(
    state: web::Data<AppState>,
    user: Session,
    id: StaffId,
    active: bool,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    blocking(&state, move |st, conn| {
        desk::staff::set_active(st, conn, &user.actor, id, active)
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
    user: Session,
    id: web::Path<StaffId>,
) -> Result<HttpResponse, ApiError> {
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
    user: Session,
    id: web::Path<StaffId>,
) -> Result<HttpResponse, ApiError> {
    set_active(state, user, id.into_inner(), true).await
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// At least 10 characters.
    #[schema(min_length = 10)]
    password: String,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Staff id")),
    request_body = PasswordRequest,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 204, description = "The password is reset and the account's sign-ins end"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[post("/staff/{id}/password")]
pub async fn reset_password(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<StaffId>,
    body: AfterAuth<web::Json<PasswordRequest>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let (id, password) = (id.into_inner(), body.into_inner().password);
    blocking(&state, move |st, conn| {
        desk::staff::reset_password(st, conn, &user.actor, id, &password)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct StaffPatch {
    /// Hold this counsellor's replies for a supervisor's review (CONTRACT §8). Refused (422)
    /// for a supervisor's account: a supervisor's own replies are never held.
    review_replies: bool,
}

#[utoipa::path(
    tag = "staff",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Staff id")),
    request_body = StaffPatch,
    responses(
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
        (status = 204, description = "Changed; from now on the counsellor's replies are held for review (or no longer)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    )
)]
#[patch("/staff/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<StaffId>,
    body: AfterAuth<web::Json<crate::http::params::Object<StaffPatch>>>,
) -> Result<HttpResponse, ApiError> {
    user.actor.require_supervisor()?;
    let (id, on) = (id.into_inner(), body.into_inner().0.review_replies);
    blocking(&state, move |st, conn| {
        desk::staff::set_review(st, conn, &user.actor, id, on)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
