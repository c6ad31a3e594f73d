//! `/desk/text-modules`: the 定型文 page. Everyone reads the modules; supervisors add, change
//! and delete them, through the same desk functions as `/api/v1/text-modules`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::Deserialize;

use super::{DeskUser, base, failed, refused, render, see_other};
use crate::desk::{self, DeskError};
use crate::domain::text_module::PLACEHOLDERS;
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ModuleForm {
    csrf: Option<String>,
    title: Option<String>,
    body: Option<String>,
    /// `save` or `delete`, from the button pressed on the edit page.
    action: Option<String>,
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

struct Editing<'a> {
    id: Option<i64>,
    title: &'a str,
    body: &'a str,
    errors: BTreeMap<&'static str, &'static str>,
}

fn error_words(code: &str) -> &'static str {
    match code {
        "too_long" => "長すぎます。短くしてください。",
        _ => "入力してください。",
    }
}

async fn page(
    state: &web::Data<AppState>,
    user: &DeskUser,
    editing: Editing<'_>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let modules = match blocking(state, |_, conn| desk::text_modules::list(conn)).await {
        Ok(m) => m,
        Err(e) => return failed(state, user, &e, "/desk"),
    };
    let modules: Vec<_> = modules
        .into_iter()
        .map(|m| context! { id => m.id, title => m.title, body => m.body })
        .collect();
    render(
        state,
        "desk/text_modules.html",
        context! {
            modules,
            supervisor => user.session.actor.is_supervisor(),
            editing => editing.id,
            form => context! { title => editing.title, body => editing.body },
            errors => editing.errors,
            notice,
            placeholders => PLACEHOLDERS,
            current => "text_modules",
            ..base(state, Some(user))
        },
        status,
    )
}

fn blank() -> Editing<'static> {
    Editing {
        id: None,
        title: "",
        body: "",
        errors: BTreeMap::new(),
    }
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "Every text module; for supervisors the form to add one", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
    )
)]
#[get("/desk/text-modules")]
pub async fn list(
    state: web::Data<AppState>,
    user: DeskUser,
    shown: web::Query<Shown>,
) -> HttpResponse {
    let notice = match shown.done.as_deref() {
        Some("create") => Some("定型文を追加しました。"),
        Some("save") => Some("定型文を保存しました。"),
        Some("delete") => Some("定型文を削除しました。"),
        _ => None,
    };
    page(&state, &user, blank(), notice, StatusCode::OK).await
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Text module id")),
    responses(
        (status = 200, description = "The edit form (supervisors)", content_type = "text/html"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such text module", content_type = "text/html"),
    )
)]
#[get("/desk/text-modules/{id}")]
pub async fn edit(state: web::Data<AppState>, user: DeskUser, id: web::Path<i64>) -> HttpResponse {
    let id = id.into_inner();
    if let Err(e) = user.session.actor.require_supervisor() {
        return failed(&state, &user, &ApiError::Desk(e), "/desk/text-modules");
    }
    let modules = match blocking(&state, |_, conn| desk::text_modules::list(conn)).await {
        Ok(m) => m,
        Err(e) => return failed(&state, &user, &e, "/desk/text-modules"),
    };
    let Some(m) = modules.into_iter().find(|m| m.id == id) else {
        let e = ApiError::Desk(DeskError::NotFound("text module"));
        return failed(&state, &user, &e, "/desk/text-modules");
    };
    let editing = Editing {
        id: Some(id),
        title: &m.title,
        body: &m.body,
        errors: BTreeMap::new(),
    };
    page(&state, &user, editing, None, StatusCode::OK).await
}

/// A desk outcome of a module form: on to the list, or the form again with its errors.
async fn outcome(
    state: &web::Data<AppState>,
    user: &DeskUser,
    result: Result<(), ApiError>,
    form: &ModuleForm,
    id: Option<i64>,
    done: &str,
) -> HttpResponse {
    match result {
        Ok(()) => see_other(&format!("/desk/text-modules?done={done}")),
        Err(ApiError::Desk(DeskError::Invalid(fields))) => {
            let errors = fields.iter().map(|(f, c)| (*f, error_words(c))).collect();
            let editing = Editing {
                id,
                title: form.title.as_deref().unwrap_or(""),
                body: form.body.as_deref().unwrap_or(""),
                errors,
            };
            page(state, user, editing, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => failed(state, user, &e, "/desk/text-modules"),
    }
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "Added; on to the list"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 422, description = "Title or body missing: the form again", content_type = "text/html"),
    )
)]
#[post("/desk/text-modules")]
pub async fn create(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Form<ModuleForm>,
) -> HttpResponse {
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk/text-modules");
    }
    let actor = user.session.actor.clone();
    let (title, body) = (
        form.title.clone().unwrap_or_default(),
        form.body.clone().unwrap_or_default(),
    );
    let result = blocking(&state, move |st, conn| {
        desk::text_modules::create(st, conn, &actor, &title, &body)
    })
    .await
    .map(drop);
    outcome(&state, &user, result, &form, None, "create").await
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Text module id")),
    responses(
        (status = 303, description = "Saved or deleted; on to the list"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 422, description = "Title or body missing: the form again", content_type = "text/html"),
    )
)]
#[post("/desk/text-modules/{id}")]
pub async fn change(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
    form: web::Form<ModuleForm>,
) -> HttpResponse {
    let id = id.into_inner();
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk/text-modules");
    }
    let actor = user.session.actor.clone();
    if form.action.as_deref() == Some("delete") {
        let result = blocking(&state, move |st, conn| {
            desk::text_modules::delete(st, conn, &actor, id)
        })
        .await;
        return outcome(&state, &user, result, &form, Some(id), "delete").await;
    }
    let (title, body) = (form.title.clone(), form.body.clone());
    let result = blocking(&state, move |st, conn| {
        desk::text_modules::update(st, conn, &actor, id, title.as_deref(), body.as_deref())
    })
    .await;
    outcome(&state, &user, result, &form, Some(id), "save").await
}
