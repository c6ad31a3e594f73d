//! One integration-test binary (linking is the slow part of a Rust test build).

mod support;

mod api;
mod browser;
mod cli;
mod consultations;
mod file_modes;
mod form;
mod fuzz;
mod imap_tls;
mod instances;
mod intake;
mod intake_guard;
mod mail_out;
mod outbox;
mod reports;
mod sqlite_faults;
mod triage;
