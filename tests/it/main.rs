//! One integration-test binary (linking is the slow part of a Rust test build).

mod support;

mod api;
mod cli;
mod consultations;
mod fuzz;
mod intake;
mod outbox;
mod reports;
mod triage;
