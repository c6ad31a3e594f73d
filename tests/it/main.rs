//! One integration-test binary (linking is the slow part of a Rust test build).

mod support;

mod api;
mod api_details;
mod browser;
mod cli;
mod consultations;
mod desk;
mod desk_my;
mod desk_review;
mod desk_session;
mod desk_supervisor;
mod desk_ticket;
mod desk_work;
mod export;
mod file_modes;
mod form;
mod fuzz;
mod hardening;
mod imap_tls;
mod instances;
mod intake;
mod intake_guard;
mod mail_out;
mod my;
mod outbox;
mod privacy;
mod reports;
mod retention;
mod review;
mod sign_in_limits;
mod soak;
mod sqlite_faults;
mod statistics;
mod statistics_console;
mod triage;
