//! madoguchi (窓口): the consultation window. A backend for public consultation desks that
//! answer people by mail: web-form and mail intake, a reply clock per unanswered message,
//! a counsellors' queue, a durable outbox, and supervisors' reports.

pub mod cli;
pub mod config;
pub mod db;
pub mod desk;
pub mod domain;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod intake;
pub mod mail;
pub mod metrics;
pub mod private_files;
pub mod random;
pub mod ratelimit;
pub mod signal;
pub mod startup;
pub mod state;
pub mod templates;
pub mod timesource;

pub use startup::Application;
