//! `/api/v1/text-modules` (CONTRACT §7): supervisors create, edit and delete; everyone reads.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::blocking;
use super::error::{ApiError, ErrorBody};
use crate::desk;
use crate::desk::auth::Session;
use crate::http::gate::AfterAuth;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TextModuleOut {
    id: i64,
    title: String,
    /// May carry `{{consulter_name}}` and the centre's placeholders, filled in a reply.
    body: String,
}

#[derive(Serialize, ToSchema)]
pub struct TextModuleList {
    items: Vec<TextModuleOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewTextModule {
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 100)]
    title: String,
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 10000)]
    body: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TextModulePatch {
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 100)]
    title: Option<String>,
    #[schema(pattern = r"[^\s\x00-\x1f\x7f-\x9f]", max_length = 10000)]
    body: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    id: i64,
}

#[utoipa::path(
    tag = "text modules",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every text module, by title", body = TextModuleList),
        (status = 401, body = ErrorBody),
    )
)]
#[get("/text-modules")]
pub async fn list(state: web::Data<AppState>, _user: Session) -> Result<HttpResponse, ApiError> {
    let rows = blocking(&state, |_, conn| desk::text_modules::list(conn)).await?;
    Ok(HttpResponse::Ok().json(TextModuleList {
        items: rows
            .into_iter()
            .map(|r| TextModuleOut {
                id: r.id,
                title: r.title,
                body: r.body,
            })
            .collect(),
    }))
}

#[utoipa::path(
    tag = "text modules",
    security(("bearer" = [])),
    request_body = NewTextModule,
    responses(
        (status = 201, description = "Created", body = Created),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
    )
)]
#[post("/text-modules")]
pub async fn create(
    state: web::Data<AppState>,
    user: Session,
    body: AfterAuth<web::Json<NewTextModule>>,
) -> Result<HttpResponse, ApiError> {
    let NewTextModule { title, body } = body.into_inner();
    let id = blocking(&state, move |st, conn| {
        desk::text_modules::create(st, conn, &user.actor, &title, &body)
    })
    .await?;
    Ok(HttpResponse::Created().json(Created { id }))
}

#[utoipa::path(
    tag = "text modules",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Text module id")),
    request_body = TextModulePatch,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 408, description = "The body did not arrive in time", body = ErrorBody),
        (status = 413, description = "The body is larger than accepted", body = ErrorBody),
    )
)]
#[patch("/text-modules/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
    body: AfterAuth<web::Json<crate::http::params::Object<TextModulePatch>>>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let TextModulePatch { title, body } = body.into_inner().0;
    blocking(&state, move |st, conn| {
        desk::text_modules::update(st, conn, &user.actor, id, title.as_deref(), body.as_deref())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(
    tag = "text modules",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Text module id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
#[delete("/text-modules/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: Session,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(&state, move |st, conn| {
        desk::text_modules::delete(st, conn, &user.actor, id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
