//! A body must arrive within `server.body_timeout_seconds` of the request's start (issue 10,
//! point 16). Without it, a client sending one byte every few seconds holds a connection, and
//! whatever waits on the body, for ever; a few hundred such clients and nobody else is
//! served. actix-web's own `client_request_timeout` covers only the request head.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage};
use futures_util::Stream;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::state::AppState;

/// The request body, cut off with a time-out error once its deadline passes.
struct Deadlined {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    expired: bool,
}

impl Stream for Deadlined {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

/// Whether a body error is this deadline's.
pub fn timed_out(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// The middleware (`wrap_fn`): gives every request's body its deadline.
pub fn body_deadline<S, B>(
    mut req: ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, Error>> + use<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    let seconds = req
        .app_data::<web::Data<AppState>>()
        .map_or(30, |s| s.settings.server.body_timeout_seconds);
    let inner = req.take_payload();
    let timed = Deadlined {
        inner,
        deadline: Box::pin(sleep_until(Instant::now() + Duration::from_secs(seconds))),
        expired: false,
    };
    req.set_payload(Payload::from(
        Box::pin(timed) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    srv.call(req)
}
