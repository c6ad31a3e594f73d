//! One integration-test binary (linking is the slow part of a Rust test build).

mod support;

mod api;
mod api_details;
mod browser;
mod cli;
mod consultations;
mod form;
mod fuzz;
mod hardening;
mod imap_tls;
mod intake;
mod outbox;
mod reports;
mod sign_in_limits;
mod triage;
