//! `GET /desk` (the queue, or the sign-in page), `POST /desk/login` and `POST /desk/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use minijinja::context;
use serde::Deserialize;

use super::queue::{self, QueueForm};
use super::{DeskUser, base, refused, render, safe_next, see_other, session_cookie};
use crate::desk::DeskError;
use crate::desk::auth;
use crate::domain::form_token::{self, Verdict};
use crate::http::error::ApiError;
use crate::http::{blocking, client_addr, form_guard};
use crate::state::AppState;

/// What the sign-in page may say above the form.
#[derive(Clone, Copy)]
enum Notice {
    None,
    Expired,
    SignedOut,
}

struct SignInPage<'a> {
    email: &'a str,
    next: &'a str,
    notice: Notice,
    error: Option<&'a str>,
}

fn sign_in_page(state: &AppState, p: &SignInPage<'_>, status: StatusCode) -> HttpResponse {
    let notice = match p.notice {
        Notice::None => None,
        Notice::Expired => Some("ログインの有効期限が切れました。もう一度ログインしてください。"),
        Notice::SignedOut => Some("ログアウトしました。"),
    };
    render(
        state,
        "desk/sign_in.html",
        context! {
            email => p.email,
            next => p.next,
            notice,
            error => p.error,
            login_token => form_token::issue(&state.form_secret, state.time.now()),
            ..base(state, None)
        },
        status,
    )
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 200, description = "The queue when signed in; otherwise the sign-in page", content_type = "text/html"),
        (status = 303, description = "Signed in already: to the page named by `next`"),
    )
)]
#[get("/desk")]
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Option<DeskUser>,
    form: web::Query<QueueForm>,
) -> HttpResponse {
    let form = form.into_inner();
    match user {
        Some(user) => match form.next.as_deref() {
            Some(next) => see_other(&safe_next(Some(next))),
            None => queue::page(&state, &user, form).await,
        },
        None => {
            let next = safe_next(form.next.as_deref());
            // A session cookie that no longer opens anything: the sign-in has expired.
            let expired = form.expired.is_some() || req.cookie(super::COOKIE).is_some();
            let notice = match (expired, form.signed_out.is_some()) {
                (true, _) => Notice::Expired,
                (_, true) => Notice::SignedOut,
                _ => Notice::None,
            };
            let page = SignInPage {
                email: "",
                next: &next,
                notice,
                error: None,
            };
            sign_in_page(&state, &page, StatusCode::OK)
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignInForm {
    email: Option<String>,
    password: Option<String>,
    next: Option<String>,
    login_token: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "Signed in: a new session cookie, and on to the page asked for"),
        (status = 401, description = "Wrong email or password: the form again", content_type = "text/html"),
        (status = 403, description = "Not sent from our sign-in page", content_type = "text/html"),
        (status = 429, description = "Too many failed sign-ins (the API's throttling)", content_type = "text/html"),
    )
)]
#[post("/desk/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    let email = form.email.unwrap_or_default();
    // Another site must not sign a person in to an account of its choosing.
    let token_ok = form.login_token.as_deref().is_some_and(|t| {
        matches!(
            form_token::check(&state.form_secret, t, state.time.now()),
            Verdict::Fresh | Verdict::TooQuick
        )
    });
    if !form_guard::from_our_site(&req, &state.settings.server.public_base_url) || !token_ok {
        let page = SignInPage {
            email: &email,
            next: &next,
            notice: Notice::None,
            error: Some(
                "確認用の情報が足りないため、ログインできませんでした。このページから、もう一度ログインしてください。",
            ),
        };
        return sign_in_page(&state, &page, StatusCode::FORBIDDEN);
    }
    let addr = client_addr(&req);
    let password = form.password.unwrap_or_default();
    let typed = email.clone();
    // The session this browser had before is ended: a sign-in always starts a new one.
    let before = req.cookie(super::COOKIE).map(|c| c.value().to_string());
    // Not `blocking` for the password check: sign-in takes a connection only for its moments
    // with the database, so a flood of sign-ins cannot starve the pool.
    let st = state.clone();
    let check_addr = addr.clone();
    let checked = web::block(move || auth::sign_in(&st, &typed, &password, &check_addr))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking work failed: {e}")))
        .and_then(|r| r.map_err(ApiError::from));
    let result = match checked {
        Ok(signed_in) => {
            blocking(&state, move |st, conn| {
                if let Some(old) = before
                    && let Ok(session) = auth::authenticate(st, conn, &old, addr.clone())
                {
                    auth::sign_out(st, conn, &session)?;
                }
                Ok::<_, DeskError>(signed_in)
            })
            .await
        }
        Err(e) => Err(e),
    };
    let (status, error) = match result {
        Ok(signed_in) => {
            return HttpResponse::SeeOther()
                .cookie(session_cookie(&state, &signed_in.token))
                .insert_header((actix_web::http::header::LOCATION, next))
                .finish();
        }
        Err(ApiError::Desk(DeskError::WrongCredentials)) => (
            StatusCode::UNAUTHORIZED,
            "メールアドレスまたはパスワードが違います。",
        ),
        Err(ApiError::Desk(DeskError::Throttled { .. })) => (
            StatusCode::TOO_MANY_REQUESTS,
            "ログインに続けて失敗したため、しばらくログインできません。15分ほどたってから、もう一度お試しください。",
        ),
        Err(ApiError::Desk(DeskError::Busy)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ただいまログインが混み合っています。少し時間をおいて、もう一度お試しください。",
        ),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "システムの都合でログインできませんでした。少し時間をおいて、もう一度お試しください。",
            )
        }
    };
    let page = SignInPage {
        email: &email,
        next: &next,
        notice: Notice::None,
        error: Some(error),
    };
    sign_in_page(&state, &page, status)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CsrfOnly {
    csrf: Option<String>,
}

#[utoipa::path(
    tag = "desk",
    responses(
        (status = 303, description = "Signed out: the session is revoked and its cookie removed"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
    )
)]
#[post("/desk/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    user: DeskUser,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    if !user.form_is_ours(form.csrf.as_deref()) {
        return refused(&state, &user, "/desk");
    }
    let session = user.session.clone();
    if let Err(e) = blocking(&state, move |st, conn| auth::sign_out(st, conn, &session)).await {
        return super::failed(&state, &user, &e, "/desk");
    }
    HttpResponse::SeeOther()
        .cookie(session_cookie(&state, ""))
        .insert_header((actix_web::http::header::LOCATION, "/desk?signed_out=1"))
        .finish()
}
