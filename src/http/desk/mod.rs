//! The staff console under `/desk` (CONTRACT §7): server-rendered Japanese pages that work
//! without script. Handlers are as thin as the API's and call the same desk functions; the
//! session is the API's sign-in, carried in a cookie instead of a bearer header.

pub mod actions;
pub mod case;
pub mod chart;
pub mod drafts;
pub mod quarantine;
pub mod queue;
pub mod reports;
pub mod reviews;
pub mod sign_in;
pub mod staff;
pub mod statistics;
pub mod text_modules;
pub mod ticket;
pub mod urgent;
pub mod words;
pub mod workload;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use minijinja::{Value, context};
use sha2::{Digest, Sha256};

use super::{blocking, client_addr};
use crate::desk::auth::{self, Session};
use crate::domain::vocabulary::Role;
use crate::state::AppState;

/// The session cookie: the same token the API hands out, never readable by script.
pub const COOKIE: &str = "madoguchi_desk";

/// A staff member signed in to the console, with the token their forms must carry.
pub struct DeskUser {
    pub session: Session,
    pub csrf: String,
}

/// The forms' token: bound to the session (a hash of its secret token), so another site can
/// neither read nor make it, and it ends with the session.
fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("madoguchi desk form\0{token}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

impl DeskUser {
    /// Whether a form came back with this session's token; compared in constant time.
    pub fn form_is_ours(&self, given: Option<&str>) -> bool {
        let given = given.unwrap_or("").as_bytes();
        let ours = self.csrf.as_bytes();
        given.len() == ours.len() && given.iter().zip(ours).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
    }
}

/// Where a person lands after signing in: a console page of ours, or the queue.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/desk" || n.starts_with("/desk/") || n.starts_with("/desk?"))
                && !n.contains("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => "/desk".to_string(),
    }
}

/// The page to come back to after signing in: the page asked for, or for a form post the
/// ticket page it was sent from.
fn come_back_to(req: &HttpRequest) -> String {
    let path = req.path();
    if req.method() == actix_web::http::Method::GET {
        return match req.query_string() {
            "" => path.to_string(),
            q => format!("{path}?{q}"),
        };
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "desk", "tickets", id, ..] => format!("/desk/tickets/{id}"),
        ["", "desk", "reviews", id, ..] => format!("/desk/reviews/{id}"),
        _ => "/desk".to_string(),
    }
}

/// For a value in a query string: everything but letters, digits and `-._~` as `%XX`.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to.to_string()))
        .finish()
}

/// Without a valid session, every console page leads to the sign-in page, which returns here.
impl FromRequest for DeskUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req.cookie(COOKIE).map(|c| c.value().to_string());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let addr = client_addr(req);
        let next = come_back_to(req);
        Box::pin(async move {
            let to_sign_in = |expired: bool| {
                let mut url = format!("/desk?next={}", percent_encode(&next));
                if expired {
                    url.push_str("&expired=1");
                }
                actix_web::error::InternalError::from_response("sign in", see_other(&url)).into()
            };
            let (Some(token), Some(state)) = (token, state) else {
                return Err(to_sign_in(false));
            };
            let csrf = csrf_for(&token);
            match blocking(&state, move |st, conn| {
                auth::authenticate(st, conn, &token, addr)
            })
            .await
            {
                Ok(session) => Ok(Self { session, csrf }),
                Err(_) => Err(to_sign_in(true)),
            }
        })
    }
}

/// The session cookie for a new sign-in (or, with an empty token, one that removes it).
pub fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let secure = state
        .settings
        .server
        .public_base_url
        .to_ascii_lowercase()
        .starts_with("https://");
    let mut c = Cookie::build(COOKIE, token.to_string())
        .path("/desk")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    if token.is_empty() {
        c.make_removal();
    }
    c
}

/// What every console page shows around its content: the centre, who is signed in, and the
/// token their forms carry.
pub fn base(state: &AppState, user: Option<&DeskUser>) -> Value {
    context! {
        center => &state.settings.center,
        me => user.map(|u| context! {
            name => &u.session.actor.name,
            supervisor => u.session.actor.role == Role::Supervisor,
        }),
        csrf => user.map(|u| u.csrf.clone()),
    }
}

pub fn render(state: &AppState, name: &str, ctx: Value, status: StatusCode) -> HttpResponse {
    match state.templates.render(name, ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, template = name, "console page could not be rendered");
            HttpResponse::InternalServerError()
                .content_type(ContentType::plaintext())
                .body("ページを表示できませんでした。管理者に連絡してください。")
        }
    }
}

/// A page in words only, with a way back.
pub fn message(
    state: &AppState,
    user: Option<&DeskUser>,
    title: &str,
    text: &str,
    back: &str,
    status: StatusCode,
) -> HttpResponse {
    // The link says where it leads.
    let back_words = if back.starts_with("/desk/tickets/") {
        "相談のページに戻る"
    } else if back.starts_with("/desk/text-modules") {
        "定型文の一覧に戻る"
    } else if back.starts_with("/desk/staff") {
        "職員の一覧に戻る"
    } else if back.starts_with("/desk/quarantine") {
        "隔離メールの一覧に戻る"
    } else if back.starts_with("/desk/workload") {
        "担当状況に戻る"
    } else if back.starts_with("/desk/reviews") {
        "承認待ちの一覧に戻る"
    } else {
        "相談一覧に戻る"
    };
    render(
        state,
        "desk/message.html",
        context! { title, text, back, back_words, ..base(state, user) },
        status,
    )
}

/// The supervisors' pages: none for a supervisor; for a counsellor the page to answer
/// instead, which says kindly that the page is not theirs (403).
pub fn supervisors_only(state: &AppState, user: &DeskUser) -> Option<HttpResponse> {
    if user.session.actor.is_supervisor() {
        return None;
    }
    Some(message(
        state,
        Some(user),
        "このページはスーパーバイザー用です",
        "このページは、スーパーバイザーだけが開けます。必要なときは、スーパーバイザーに声をかけてください。",
        "/desk",
        StatusCode::FORBIDDEN,
    ))
}

/// A form that came without this session's token: refused, nothing changed.
pub fn refused(state: &AppState, user: &DeskUser, back: &str) -> HttpResponse {
    message(
        state,
        Some(user),
        "この操作は受け付けられませんでした",
        "確認用の情報が足りないため、何も変更していません。ページを開き直してから、もう一度操作してください。",
        back,
        StatusCode::FORBIDDEN,
    )
}

/// Why a desk function did not happen, said to a counsellor.
pub fn failed(
    state: &AppState,
    user: &DeskUser,
    e: &crate::http::error::ApiError,
    back: &str,
) -> HttpResponse {
    use actix_web::ResponseError;
    let status = e.status_code();
    let (title, text) = match status {
        StatusCode::NOT_FOUND => (
            "見つかりませんでした",
            "お探しの相談は見つかりませんでした。受付番号を確かめてください。",
        ),
        StatusCode::FORBIDDEN => (
            "この操作はできません",
            "この操作は、スーパーバイザーだけが行えます。",
        ),
        s if s.is_client_error() => (
            "受け付けられませんでした",
            "入力された内容を受け付けられませんでした。ページを開き直してから、もう一度操作してください。",
        ),
        _ => {
            tracing::error!(error = %crate::domain::redact::addresses(&e.to_string()), "console action failed");
            (
                "ただいま処理できませんでした",
                "システムの都合で処理できませんでした。少し時間をおいて、もう一度操作してください。",
            )
        }
    };
    message(state, Some(user), title, text, back, status)
}
