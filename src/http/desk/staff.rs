//! 職員 (`/desk/staff`): the accounts, a form to add one, and each account's page to stop or
//! resume it and to set a new password; the same desk functions as `/api/v1/staff`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{DeskUser, base, failed, refused, render, see_other, supervisors_only, words};
use crate::db::from_db;
use crate::desk::{self, DeskError};
use crate::domain::vocabulary::{Role, StaffId};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::state::AppState;

#[derive(Serialize)]
struct Member {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    active: bool,
    created: String,
}

fn role_words(r: Role) -> &'static str {
    match r {
        Role::Counsellor => "相談員",
        Role::Supervisor => "スーパーバイザー",
    }
}

async fn members(state: &web::Data<AppState>, user: &DeskUser) -> Result<Vec<Member>, ApiError> {
    let actor = user.session.actor.clone();
    let rows = blocking(state, move |st, conn| desk::staff::list(st, conn, &actor)).await?;
    Ok(rows
        .into_iter()
        .map(|r| Member {
            id: r.id.0,
            name: r.name,
            email: r.email,
            role: role_words(r.role),
            active: r.active,
            created: words::when(state, from_db(r.created_at)),
        })
        .collect())
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct NewMemberForm {
    csrf: Option<String>,
    name: Option<String>,
    email: Option<String>,
    role: Option<String>,
    password: Option<String>,
}

#[derive(Deserialize)]
pub struct Shown {
    done: Option<String>,
}

fn error_words(field: &str, code: &str) -> &'static str {
    match (field, code) {
        ("password", _) => "10文字以上にしてください。",
        ("email", "exists") => "このメールアドレスの職員はすでに登録されています。",
        ("email", _) => "メールアドレスの形を確かめてください。",
        ("role", _) => "役割を選んでください。",
        _ => "入力してください（100文字まで）。",
    }
}

async fn list_page(
    state: &web::Data<AppState>,
    user: &DeskUser,
    form: &NewMemberForm,
    errors: BTreeMap<&'static str, &'static str>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let members = match members(state, user).await {
        Ok(m) => m,
        Err(e) => return failed(state, user, &e, "/desk"),
    };
    render(
        state,
        "desk/staff.html",
        context! {
            members,
            form => context! {
                name => form.name.as_deref().unwrap_or(""),
                email => form.email.as_deref().unwrap_or(""),
                role => form.role.as_deref().unwrap_or("counsellor"),
            },
            errors,
            notice,
            current => "staff",
            ..base(state, Some(user))
        },
        status,
    )
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "職員: every account and the form to add one", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
    )
)]
#[get("/desk/staff")]
pub async fn list(
    state: web::Data<AppState>,
    user: DeskUser,
    shown: web::Query<Shown>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let notice = match shown.done.as_deref() {
        Some("create") => Some("職員を追加しました。初めのパスワードを本人に直接伝えてください。"),
        _ => None,
    };
    list_page(
        &state,
        &user,
        &NewMemberForm::default(),
        BTreeMap::new(),
        notice,
        StatusCode::OK,
    )
    .await
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "Added; back to the list"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 422, description = "A field is missing or wrong: the form again", content_type = "text/html"),
    )
)]
#[post("/desk/staff")]
pub async fn create(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Form<NewMemberForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk/staff");
    }
    let actor = user.session.actor.clone();
    let f = form.into_inner();
    let given = |v: &Option<String>| v.clone().unwrap_or_default();
    let (email, name, role, password) = (
        given(&f.email),
        given(&f.name),
        given(&f.role),
        given(&f.password),
    );
    let result = blocking(&state, move |st, conn| {
        desk::staff::create_by(st, conn, &actor, &email, &name, &role, &password)
    })
    .await;
    let errors: BTreeMap<&'static str, &'static str> = match result {
        Ok(_) => return see_other("/desk/staff?done=create"),
        Err(ApiError::Desk(DeskError::Invalid(fields))) => fields
            .iter()
            .map(|(f, c)| (*f, error_words(f, c)))
            .collect(),
        Err(ApiError::Desk(DeskError::AccountExists)) => {
            BTreeMap::from([("email", error_words("email", "exists"))])
        }
        Err(e) => return failed(&state, &user, &e, "/desk/staff"),
    };
    list_page(
        &state,
        &user,
        &f,
        errors,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

async fn member_page(
    state: &web::Data<AppState>,
    user: &DeskUser,
    id: i64,
    notice: Option<&'static str>,
    password_error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let found = match members(state, user).await {
        Ok(m) => m.into_iter().find(|m| m.id == id),
        Err(e) => return failed(state, user, &e, "/desk/staff"),
    };
    let Some(member) = found else {
        let e = ApiError::Desk(DeskError::NotFound("staff account"));
        return failed(state, user, &e, "/desk/staff");
    };
    let own = id == user.session.actor.staff_id.0;
    render(
        state,
        "desk/staff_member.html",
        context! {
            member,
            own,
            notice,
            password_error,
            current => "staff",
            ..base(state, Some(user))
        },
        status,
    )
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Staff id")),
    responses(
        (status = 200, description = "One account, with its forms", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page"),
        (status = 403, description = "Not a supervisor", content_type = "text/html"),
        (status = 404, description = "No such account", content_type = "text/html"),
    )
)]
#[get("/desk/staff/{id}")]
pub async fn show_member(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
    shown: web::Query<Shown>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let notice = match shown.done.as_deref() {
        Some("deactivate") => Some("利用を停止しました。この職員のログインはすべて終わりました。"),
        Some("reactivate") => Some("利用を再開しました。"),
        Some("password") => {
            Some("パスワードを再設定しました。この職員のログインはすべて終わりました。")
        }
        _ => None,
    };
    member_page(&state, &user, id.into_inner(), notice, None, StatusCode::OK).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangeForm {
    csrf: Option<String>,
    /// `deactivate`, `reactivate` or `password`, from the button pressed.
    action: Option<String>,
    password: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    params(("id" = i64, Path, description = "Staff id")),
    responses(
        (status = 303, description = "Done; back to the account's page"),
        (status = 403, description = "Not a supervisor, or the form's token is missing", content_type = "text/html"),
        (status = 404, description = "No such account", content_type = "text/html"),
        (status = 409, description = "One's own account cannot be stopped", content_type = "text/html"),
        (status = 422, description = "The new password is too short", content_type = "text/html"),
    )
)]
#[post("/desk/staff/{id}")]
pub async fn change(
    state: web::Data<AppState>,
    user: DeskUser,
    id: web::Path<i64>,
    form: web::Form<ChangeForm>,
) -> HttpResponse {
    if let Some(page) = supervisors_only(&state, &user) {
        return page;
    }
    let id = id.into_inner();
    let back = format!("/desk/staff/{id}");
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, &back);
    }
    let actor = user.session.actor.clone();
    let action = form.action.clone().unwrap_or_default();
    let password = form.password.clone().unwrap_or_default();
    let done = action.clone();
    let result = blocking(&state, move |st, conn| match action.as_str() {
        "deactivate" => desk::staff::set_active(st, conn, &actor, StaffId(id), false),
        "reactivate" => desk::staff::set_active(st, conn, &actor, StaffId(id), true),
        "password" => desk::staff::reset_password(st, conn, &actor, StaffId(id), &password),
        _ => Err(DeskError::Invalid(vec![("action", "invalid")])),
    })
    .await;
    match result {
        Ok(()) => see_other(&format!("{back}?done={done}")),
        Err(ApiError::Desk(DeskError::Invalid(f))) if f.iter().any(|(n, _)| *n == "password") => {
            member_page(
                &state,
                &user,
                id,
                None,
                Some(error_words("password", "too_short")),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => failed(&state, &user, &e, &back),
    }
}
