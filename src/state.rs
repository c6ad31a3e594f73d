//! What every request handler, worker and command shares.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Pool;
use crate::domain::clock::ClockRules;
use crate::domain::triage::PhraseLists;
use crate::mail::Mailer;
use crate::ratelimit::RateLimiter;
use crate::signal::Waker;
use crate::templates::Templates;
use crate::timesource::TimeSource;

pub struct AppState {
    pub settings: Settings,
    pub rules: ClockRules,
    /// Page templates; the mail templates are the same, held by the mailer.
    pub templates: Arc<Templates>,
    pub mailer: Mailer,
    pub pool: Pool,
    /// Public intake's writes (API, form, IMAP), committed together (`db::group_commit`).
    pub commits: std::sync::Arc<crate::db::group_commit::GroupCommit>,
    pub time: Arc<dyn TimeSource>,
    /// Wakes the delivery worker when a transaction has queued mail.
    pub waker: Arc<Waker>,
    pub intake_limiter: RateLimiter,
    /// Signs the consultation form's token (`intake.form_secret`, or random for this process).
    pub form_secret: Vec<u8>,
    /// Urgent-risk phrase lists, built once: building them indexes thousands of phrases.
    pub triage: PhraseLists,
    pub metrics: crate::metrics::Metrics,
    /// Staff passwords are checked here, a bounded number at once.
    pub password_checker: crate::desk::auth::checker::PasswordChecker,
    /// The case fields' codes and labels (`statistics.file`), checked at start.
    pub case_fields: crate::domain::case_fields::CaseFields,
}
