//! Mail we send: composed from templates into exact bytes when queued, then delivered by the
//! outbox worker, the only code that talks to an SMTP server.

pub mod delivery;
mod form_mail;
pub mod mailer;
pub mod outgoing;
pub mod smtp_session;

pub use mailer::Mailer;
