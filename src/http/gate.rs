//! Staff endpoints check the token before they read the body or the query (CONTRACT.md §6):
//! a caller without a valid token learns nothing about what the endpoint accepts, and its
//! body is never read. actix-web polls a handler's extractors side by side, so a malformed or
//! oversized body would otherwise answer 400/413 while the token is still being looked up.
//!
//! The `Session` extractor opens a gate in the request's extensions and closes it with the
//! outcome of the token check; [`AfterAuth`] waits on that gate before it lets the wrapped
//! extractor (a `Json`, a `Query`) start. On a handler without a `Session` the gate is never
//! taken and `AfterAuth` reads at once.

use std::cell::RefCell;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tokio::sync::watch;

use super::error::ApiError;

type Outcome = Option<bool>;

#[derive(Clone)]
struct Gate {
    /// Taken by the `Session` extractor; still here when the handler takes no session.
    opener: Rc<RefCell<Option<watch::Sender<Outcome>>>>,
    outcome: watch::Receiver<Outcome>,
}

fn gate(req: &HttpRequest) -> Gate {
    if let Some(g) = req.extensions().get::<Gate>() {
        return g.clone();
    }
    let (tx, rx) = watch::channel(None);
    let g = Gate {
        opener: Rc::new(RefCell::new(Some(tx))),
        outcome: rx,
    };
    req.extensions_mut().insert(g.clone());
    g
}

/// Held by the token check while it runs; tells waiting extractors how it ended. Dropped
/// unsent (the check was abandoned), the waiters treat it as a failure.
pub struct TokenCheck(Option<watch::Sender<Outcome>>);

impl TokenCheck {
    pub fn begin(req: &HttpRequest) -> Self {
        Self(gate(req).opener.borrow_mut().take())
    }

    pub fn finish(self, ok: bool) {
        if let Some(tx) = self.0 {
            let _ = tx.send(Some(ok));
        }
    }
}

/// An extractor that starts only once the request's token has been found valid.
pub struct AfterAuth<E>(pub E);

impl<E> Deref for AfterAuth<E> {
    type Target = E;
    fn deref(&self) -> &E {
        &self.0
    }
}

impl<T> AfterAuth<web::Json<T>> {
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<T> AfterAuth<web::Query<T>> {
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }
}

impl<E> FromRequest for AfterAuth<E>
where
    E: FromRequest + 'static,
    E::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let gate = gate(req);
        // Created now (it takes the payload) but not polled, so nothing is read yet.
        let inner = E::from_request(req, payload);
        Box::pin(async move {
            // Every extractor of a handler is created before any is polled: an opener still
            // here means the handler takes no session.
            let guarded = gate.opener.borrow().is_none();
            if guarded {
                let mut outcome = gate.outcome.clone();
                let ok = matches!(
                    outcome.wait_for(Option::is_some).await.map(|v| *v),
                    Ok(Some(true))
                );
                if !ok {
                    return Err(ApiError::Unauthenticated.into());
                }
            }
            inner.await.map(AfterAuth).map_err(Into::into)
        })
    }
}
