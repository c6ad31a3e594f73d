//! `/my`: the consulter's page as HTML (CONTRACT §10). Sign in with the reference and the
//! passphrase, read the thread, write again, close. Works without script; the session is a
//! cookie for `/my` alone, and every form carries a token bound to it.

use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, LOCATION};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{COOKIE, csrf_for, same_token, session_cookie};
use crate::db::from_db;
use crate::desk::DeskError;
use crate::desk::my_page::{self, Consulter};
use crate::domain::form_token::{self, Verdict};
use crate::domain::vocabulary::MessageKind;
use crate::http::desk::words;
use crate::http::error::ApiError;
use crate::http::{blocking, client_addr, form_guard};
use crate::state::AppState;

/// Who is looking at the page.
enum Visit {
    /// No cookie.
    Stranger,
    /// A cookie that opens nothing any more: closed for idleness, or ended.
    Lapsed,
    In {
        who: Consulter,
        csrf: String,
    },
}

async fn visit(state: &web::Data<AppState>, req: &HttpRequest) -> Visit {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return Visit::Stranger;
    };
    if token.is_empty() {
        return Visit::Stranger;
    }
    let csrf = csrf_for(&token);
    match blocking(state, move |st, conn| {
        my_page::authenticate(st, conn, &token)
    })
    .await
    {
        Ok(who) => Visit::In { who, csrf },
        Err(_) => Visit::Lapsed,
    }
}

fn render(state: &AppState, name: &str, ctx: Value, status: StatusCode) -> HttpResponse {
    let ctx = context! {
        center => &state.settings.center,
        idle_minutes => state.settings.my_page.idle_minutes,
        reply_days => state.settings.sla.reply_days,
        ..ctx
    };
    match state.templates.render(name, ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, template = name, "page could not be rendered");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("申し訳ありません。ページを表示できませんでした。")
        }
    }
}

fn sign_in_page(
    state: &AppState,
    reference: &str,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    render(
        state,
        "pages/my_sign_in.html",
        context! {
            reference,
            notice,
            error,
            form_token => form_token::issue(&state.form_secret, state.time.now()),
        },
        status,
    )
}

#[derive(Serialize)]
struct Shown {
    kind: &'static str,
    when: String,
    body: String,
}

/// The thread, read through the desk (each showing is a recorded read).
async fn thread_page(
    state: &web::Data<AppState>,
    who: Consulter,
    csrf: &str,
    notice: Option<&str>,
    again: Option<(String, &str)>,
    status: StatusCode,
) -> HttpResponse {
    let view = match blocking(state, move |st, conn| my_page::read(st, conn, &who)).await {
        Ok(v) => v,
        Err(e) => return trouble(state, &e),
    };
    let has_reply = view
        .messages
        .iter()
        .any(|m| m.kind == MessageKind::Outbound);
    let messages: Vec<Shown> = view
        .messages
        .into_iter()
        .map(|m| Shown {
            kind: m.kind.as_str(),
            when: words::when(state, from_db(m.created_at)),
            body: m.body_text,
        })
        .collect();
    let (body, body_error) = match again {
        Some((body, error)) => (body, Some(error)),
        None => (String::new(), None),
    };
    render(
        state,
        "pages/my_thread.html",
        context! {
            reference => view.reference,
            messages,
            has_reply,
            notice,
            body,
            body_error,
            csrf,
        },
        status,
    )
}

fn trouble(state: &AppState, e: &ApiError) -> HttpResponse {
    tracing::error!(error = %crate::domain::redact::addresses(&e.to_string()), "consulter page failed");
    sign_in_page(
        state,
        "",
        None,
        Some(
            "申し訳ありません。システムの都合で、いまページを開けませんでした。少し時間をおいて、もう一度お試しください。",
        ),
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

const LAPSED: &str =
    "しばらく操作がなかったため、ページを閉じました。続けるときは、もう一度開いてください。";

#[derive(Deserialize)]
pub struct ShownQuery {
    sent: Option<String>,
    closed: Option<String>,
}

#[utoipa::path(
    tag = "my",
    responses(
        (status = 200, description = "The thread when signed in; otherwise the sign-in page (受付番号, 合言葉, 開く)", content_type = "text/html"),
    )
)]
#[get("/my")]
pub async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ShownQuery>,
) -> HttpResponse {
    match visit(&state, &req).await {
        Visit::In { who, csrf } => {
            let notice = query
                .sent
                .is_some()
                .then_some("お送りしました。相談員が読んで、お返事します。");
            thread_page(&state, who, &csrf, notice, None, StatusCode::OK).await
        }
        Visit::Lapsed => {
            let page = sign_in_page(&state, "", Some(LAPSED), None, StatusCode::OK);
            forget_cookie(&state, page)
        }
        Visit::Stranger => {
            let notice = query.closed.is_some().then_some("ページを閉じました。");
            sign_in_page(&state, "", notice, None, StatusCode::OK)
        }
    }
}

fn forget_cookie(state: &AppState, mut page: HttpResponse) -> HttpResponse {
    let _ = page.add_cookie(&session_cookie(state, ""));
    page
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct OpenForm {
    reference: Option<String>,
    passphrase: Option<String>,
    form_token: Option<String>,
}

#[utoipa::path(
    tag = "my",
    responses(
        (status = 303, description = "Opened: a new session cookie, and on to the thread"),
        (status = 401, description = "Wrong reference or passphrase: the form again", content_type = "text/html"),
        (status = 403, description = "Not sent from our sign-in page", content_type = "text/html"),
        (status = 429, description = "Too many failed sign-ins (as the API)", content_type = "text/html"),
        (status = 503, description = "Too many sign-ins at once", content_type = "text/html"),
    )
)]
#[post("/my/open")]
pub async fn open(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<OpenForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let reference = form.reference.unwrap_or_default();
    let shown_again: String = reference.chars().take(40).collect();
    let token_ok = form.form_token.as_deref().is_some_and(|t| {
        matches!(
            form_token::check(&state.form_secret, t, state.time.now()),
            Verdict::Fresh | Verdict::TooQuick
        )
    });
    if !form_guard::from_our_site(&req, &state.settings.server.public_base_url) || !token_ok {
        return sign_in_page(
            &state,
            &shown_again,
            None,
            Some(
                "確認用の情報が足りないため、開けませんでした。このページから、もう一度お試しください。",
            ),
            StatusCode::FORBIDDEN,
        );
    }
    let addr = client_addr(&req);
    let passphrase = form.passphrase.unwrap_or_default();
    let before = req.cookie(COOKIE).map(|c| c.value().to_string());
    let st = state.clone();
    let opened = web::block(move || my_page::sign_in(&st, &reference, &passphrase, &addr))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking work failed: {e}")))
        .and_then(|r| r.map_err(ApiError::from));
    let (status, error) = match opened {
        Ok(opened) => {
            // The page this browser had open before is closed: a sign-in starts anew.
            if let Some(old) = before.filter(|t| !t.is_empty()) {
                let _ = blocking(&state, move |st, conn| {
                    let who = my_page::authenticate(st, conn, &old)?;
                    my_page::sign_out(st, conn, &who)
                })
                .await;
            }
            return HttpResponse::SeeOther()
                .cookie(session_cookie(&state, &opened.token))
                .insert_header((LOCATION, "/my"))
                .finish();
        }
        Err(ApiError::Desk(DeskError::WrongPassphrase)) => (
            StatusCode::UNAUTHORIZED,
            "受付番号または合言葉が違います。お確かめのうえ、もう一度入れてください。",
        ),
        Err(ApiError::Desk(DeskError::Throttled { .. })) => (
            StatusCode::TOO_MANY_REQUESTS,
            "続けて開けなかったため、しばらく開けないようにしています。15分ほどたってから、もう一度お試しください。お急ぎのときは、お電話ください。",
        ),
        Err(e) => {
            if !matches!(e, ApiError::Desk(DeskError::Busy)) {
                tracing::error!(error = %e, "consulter page sign-in failed");
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "ただいま混み合っていて、開けませんでした。少し時間をおいて、もう一度お試しください。",
            )
        }
    };
    sign_in_page(&state, &shown_again, None, Some(error), status)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct WriteForm {
    csrf: Option<String>,
    body: Option<String>,
}

#[utoipa::path(
    tag = "my",
    responses(
        (status = 303, description = "Added to the consultation; back to the thread"),
        (status = 401, description = "The page was closed (signed out, or left alone too long): the sign-in form again, nothing sent", content_type = "text/html"),
        (status = 403, description = "The form's token is missing or wrong: nothing was sent", content_type = "text/html"),
        (status = 422, description = "Empty or too long: the thread again with the text kept", content_type = "text/html"),
    )
)]
#[post("/my/write")]
pub async fn write(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<WriteForm>,
) -> HttpResponse {
    let (who, csrf) = match visit(&state, &req).await {
        Visit::In { who, csrf } => (who, csrf),
        // The text is lost with the session; said plainly on the sign-in page.
        _ => {
            let page = sign_in_page(
                &state,
                "",
                Some(
                    "しばらく操作がなかったため、ページを閉じていました。お手数ですが、もう一度開いてから書いてください。",
                ),
                None,
                StatusCode::UNAUTHORIZED,
            );
            return forget_cookie(&state, page);
        }
    };
    let form = form.into_inner();
    if !same_token(form.csrf.as_deref(), &csrf) {
        return refused(&state);
    }
    let body = form.body.unwrap_or_default();
    let typed = body.clone();
    match blocking(&state, move |st, conn| {
        my_page::write(st, conn, &who, &typed)
    })
    .await
    {
        Ok(_) => see_other("/my?sent=1"),
        Err(ApiError::Desk(DeskError::Invalid(fields))) => {
            let why = match fields.first().map(|f| f.1) {
                Some("too_long") => "長すぎます。いくつかに分けてお送りください。",
                _ => "伝えたいことを書いてください。",
            };
            thread_page(
                &state,
                who,
                &csrf,
                None,
                Some((body, why)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => trouble(&state, &e),
    }
}

fn refused(state: &AppState) -> HttpResponse {
    sign_in_page(
        state,
        "",
        None,
        Some(
            "確認用の情報が足りないため、受け付けられませんでした。ページを開き直してから、もう一度お試しください。",
        ),
        StatusCode::FORBIDDEN,
    )
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CloseForm {
    csrf: Option<String>,
}

#[utoipa::path(
    tag = "my",
    responses(
        (status = 303, description = "Closed: the session ends and its cookie is removed"),
        (status = 403, description = "The form's token is missing or wrong", content_type = "text/html"),
    )
)]
#[post("/my/close")]
pub async fn close(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CloseForm>,
) -> HttpResponse {
    if let Visit::In { who, csrf } = visit(&state, &req).await {
        if !same_token(form.csrf.as_deref(), &csrf) {
            return refused(&state);
        }
        if let Err(e) = blocking(&state, move |st, conn| my_page::sign_out(st, conn, &who)).await {
            return trouble(&state, &e);
        }
    }
    HttpResponse::SeeOther()
        .cookie(session_cookie(&state, ""))
        .insert_header((LOCATION, "/my?closed=1"))
        .finish()
}
