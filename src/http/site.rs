//! The site around the form: `/` leads to it, `/static/` serves what its pages load.

use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpResponse, get, web};

use crate::templates::assets;

#[utoipa::path(
    tag = "public",
    responses((status = 302, description = "To the consultation form, /consult"))
)]
#[get("/")]
pub async fn home() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((LOCATION, "/consult"))
        .finish()
}

#[utoipa::path(
    tag = "public",
    params(("name" = String, Path, description = "e.g. madoguchi.css")),
    responses(
        (status = 200, description = "A file the pages load, cached for a year (its address carries a version)", content_type = "text/css"),
        (status = 404, description = "No such file"),
    )
)]
#[get("/static/{name}")]
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    match assets::find(&name) {
        Some(a) => HttpResponse::Ok()
            .content_type(a.content_type)
            .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .body(a.body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}
