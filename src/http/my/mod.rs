//! The consulter's own page (CONTRACT §10): the JSON API under `/api/v1/my` (api.rs) and the
//! pages under `/my` (page.rs). A consulter is known by a token of their own, looked up only
//! among page sign-ins: it opens these handlers and nothing staff can do.

pub mod api;
pub mod page;

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};

use super::blocking;
use super::error::ApiError;
use super::gate::TokenCheck;
use crate::desk::my_page::{self, Consulter};
use crate::state::AppState;

/// The page's cookie: only for `/my`, never readable by script.
pub const COOKIE: &str = "madoguchi_my";

/// A consulter signed in through the API (`Authorization: Bearer`).
pub struct MyBearer(pub Consulter);

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

impl FromRequest for MyBearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = bearer(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let check = TokenCheck::begin(req);
        Box::pin(async move {
            let who = async {
                let token = token.ok_or(ApiError::Unauthenticated)?;
                let state = state.ok_or_else(|| ApiError::Internal("no app state".into()))?;
                blocking(&state, move |st, conn| {
                    my_page::authenticate(st, conn, &token)
                })
                .await
            }
            .await;
            check.finish(who.is_ok());
            who.map(MyBearer)
        })
    }
}

/// The page's forms' token: bound to the session's secret token, as the console's is.
pub fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("madoguchi my page form\0{token}").as_bytes());
    crate::random::hex(&digest[..16])
}

/// Whether a form came back with this session's token; compared in constant time.
pub fn same_token(given: Option<&str>, ours: &str) -> bool {
    let given = given.unwrap_or("").as_bytes();
    let ours = ours.as_bytes();
    given.len() == ours.len() && given.iter().zip(ours).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// The page's session cookie (or, with an empty token, one that removes it).
pub fn session_cookie(state: &AppState, token: &str) -> Cookie<'static> {
    let secure = state
        .settings
        .server
        .public_base_url
        .to_ascii_lowercase()
        .starts_with("https://");
    let mut c = Cookie::build(COOKIE, token.to_string())
        .path("/my")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    if token.is_empty() {
        c.make_removal();
    }
    c
}
