//! `Application::build(settings)`: the HTTP server and the background workers, used by
//! `madoguchi serve` and by the tests alike.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use utoipa_actix_web::AppExt;

use crate::config::{ConfigError, Settings};
use crate::db::{self, DbError};
use crate::domain::triage::{Category, PhraseLists};
use crate::mail::Mailer;
use crate::mail::delivery::{DeliveryWorker, Transport};
use crate::ratelimit::RateLimiter;
use crate::signal::{Shutdown, Waker};
use crate::state::AppState;
use crate::templates::{TemplateError, Templates};
use crate::timesource::{SystemTime, TimeSource};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("mail transport: {0}")]
    Mail(String),
    #[error("triage phrase list: {0}")]
    Triage(String),
}

/// The shared state alone, with every template: what the server holds.
pub fn build_state(settings: Settings, time: Arc<dyn TimeSource>) -> Result<AppState, StartError> {
    build_state_with(settings, time, Templates::load, db::connect, true)
}

/// The shared state for a command (`ingest`, `quarantine`), which needs the database, the
/// rules and the mail templates but shows no page: `ingest` is started once per mail.
pub fn build_command_state(
    settings: Settings,
    time: Arc<dyn TimeSource>,
) -> Result<AppState, StartError> {
    build_state_with(
        settings,
        time,
        Templates::load_mail,
        db::connect_for_command,
        true,
    )
}

/// As [`build_command_state`], for mail intake (`ingest`, quarantine): it never reads the case
/// fields, which [`Settings::load`] has checked already. Parsing them a second time was a
/// tenth of a one-mail `ingest` process.
pub fn build_intake_state(
    settings: Settings,
    time: Arc<dyn TimeSource>,
) -> Result<AppState, StartError> {
    build_state_with(
        settings,
        time,
        Templates::load_mail,
        db::connect_for_command,
        false,
    )
}

fn build_state_with(
    settings: Settings,
    time: Arc<dyn TimeSource>,
    load_templates: fn(Option<&Path>) -> Result<Templates, TemplateError>,
    connect: fn(&crate::config::DatabaseSettings) -> Result<db::Pool, DbError>,
    with_case_fields: bool,
) -> Result<AppState, StartError> {
    let rules = settings.clock_rules()?;
    let case_fields = if with_case_fields {
        settings.case_fields()?
    } else {
        crate::domain::case_fields::CaseFields { fields: Vec::new() }
    };
    let dir = (!settings.templates.dir.is_empty()).then(|| Path::new(&settings.templates.dir));
    let templates = Arc::new(load_templates(dir)?);
    let mailer = Mailer::new(templates.clone(), &settings, rules.tz);
    let triage = load_phrase_lists(&settings.triage.dir).map_err(StartError::Triage)?;
    let pool = connect(&settings.database)?;
    let intake_limiter = RateLimiter::new(
        settings.intake.rate_limit_per_hour,
        chrono::Duration::hours(1),
    );
    let settings_checks = settings.auth.parallel_password_checks;
    let committers =
        db::group_commit::committers_for(&settings.database.url, settings.database.pool_size);
    let form_secret = match settings.intake.form_secret.as_str() {
        "" => crate::random::bytes::<32>().to_vec(),
        own => own.as_bytes().to_vec(),
    };
    Ok(AppState {
        form_secret,
        settings,
        rules,
        templates,
        mailer,
        commits: Arc::new(db::group_commit::GroupCommit::new(pool.clone(), committers)),
        pool,
        time,
        waker: Arc::new(Waker::default()),
        intake_limiter,
        triage,
        metrics: crate::metrics::Metrics::default(),
        password_checker: crate::desk::auth::checker::PasswordChecker::new(settings_checks),
        case_fields,
    })
}

/// The built-in lists, each replaced by a same-named file in `dir` when there is one.
fn load_phrase_lists(dir: &str) -> Result<PhraseLists, String> {
    let mut lists = PhraseLists::default();
    for category in Category::ALL {
        let own = if dir.is_empty() {
            None
        } else {
            let path = Path::new(dir).join(format!("{}.txt", category.as_str()));
            match std::fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        };
        lists.add(category, own.as_deref().unwrap_or(category.builtin_list()));
    }
    Ok(lists)
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    worker: DeliveryWorker,
    /// Where `ingest` hands one mail over (`intake::handoff`), if offered.
    handoff: Option<crate::intake::handoff::listen::Socket>,
    /// The one token that stops every background worker.
    shutdown: Shutdown,
    /// SQLite's WAL copied back on a thread of its own, not by the committer (`db::checkpoint`).
    _checkpoints: Option<db::checkpoint::Checkpointer>,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        Self::build_with_time(settings, Arc::new(SystemTime))
    }

    /// As [`Application::build`], with a clock the caller controls (tests use a fake one).
    pub fn build_with_time(
        settings: Settings,
        time: Arc<dyn TimeSource>,
    ) -> Result<Self, StartError> {
        let transport = Transport::from_settings(&settings.smtp).map_err(StartError::Mail)?;
        let bind = settings.server.bind.clone();
        let workers = settings.server.workers;
        let state = web::Data::new(build_state(settings, time)?);
        let listener = TcpListener::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind.clone(), e))?
            .port();
        let openapi = crate::http::openapi();
        let methods = web::Data::new(crate::http::methods::MethodTable::of(&openapi));
        let doc = serde_json::to_value(&openapi)
            .map(|mut doc| {
                crate::http::openapi_finish::finish(&mut doc, &state.case_fields);
                doc.to_string()
            })
            .map_err(|e| StartError::Mail(format!("OpenAPI document: {e}")))?;
        let doc = web::Data::new(crate::http::OpenApiJson(doc));
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .app_data(app_state.clone())
                .app_data(doc.clone())
                .app_data(methods.clone())
                .configure(crate::http::register)
                .into_app()
                .wrap_fn(crate::http::deadline::body_deadline)
                .wrap_fn(crate::http::metrics::measure)
                .wrap_fn(crate::http::headers::protective)
                .configure(crate::http::configure)
                .default_service(web::to(crate::http::methods::unrouted))
        });
        if workers > 0 {
            server = server.workers(workers);
        }
        // Signals are ours (`run_until_signalled`): actix-web would install its handlers only
        // once the server is first polled, after the workers have started, and a SIGTERM in
        // that window killed the process with mail in flight.
        let server = server
            .disable_signals()
            .listen(listener)
            .map_err(|e| StartError::Bind(bind, e))?
            .run();
        let shutdown = Shutdown::default();
        shutdown.also_wake(state.waker.clone());
        let handoff = crate::intake::handoff::socket_path(&state.settings)
            .and_then(|path| crate::intake::handoff::listen::bind(&path));
        let worker = DeliveryWorker {
            pool: state.pool.clone(),
            commits: state.commits.clone(),
            transport,
            settings: state.settings.smtp.clone(),
            from: state.settings.center.reply_address.clone(),
            id: format!(
                "{}-{}",
                std::process::id(),
                crate::random::hex_string::<4>()
            ),
            time: state.time.clone(),
            waker: state.waker.clone(),
            shutdown: shutdown.clone(),
        };
        let checkpoints =
            db::checkpoint::Checkpointer::start(&state.pool, &state.settings.database.url);
        Ok(Self {
            port,
            server,
            state,
            worker,
            handoff,
            shutdown,
            _checkpoints: checkpoints,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// As [`Application::run_until_stopped`], stopped gracefully by SIGINT or SIGTERM: the
    /// handlers are in place before any worker starts, so no signal finds the default one.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::info!("signal received; finishing what is in hand");
            handle.stop(true).await;
        });
        self.run_until_stopped().await
    }

    /// Serves until the server is stopped (a handle, or a signal through
    /// [`Application::run_until_signalled`]), then stops every
    /// worker with the one token and lets each finish what it has in hand before returning.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if self.state.settings.center.reply_address_is_example() {
            // The address itself is not logged: logs hold no addresses.
            tracing::warn!(
                "center.reply_address is still an example address: mail goes out from, and \
                 consulters answer to, a mailbox nobody reads; set it to the centre's own"
            );
        }
        self.warn_without_staff().await;
        let worker = std::thread::Builder::new()
            .name("mail-delivery".into())
            .spawn(move || self.worker.run())?;
        let alerts = if self.state.settings.alerts.enabled {
            Some(crate::desk::alerts::spawn_worker(
                self.state.clone().into_inner(),
                self.shutdown.clone(),
                std::time::Duration::from_secs(60),
            )?)
        } else {
            None
        };
        let kept = &self.state.settings.retention;
        let retention = if kept.erase_after_years > 0 && kept.daily_job {
            Some(crate::desk::retention::spawn_worker(
                self.state.clone().into_inner(),
                self.shutdown.clone(),
                std::time::Duration::from_secs(60),
            )?)
        } else {
            None
        };
        let imap = self.state.settings.imap.enabled.then(|| {
            actix_web::rt::spawn(crate::intake::imap::run(
                self.state.clone(),
                self.shutdown.subscribe(),
            ))
        });
        let handoff = self.handoff.map(|socket| {
            actix_web::rt::spawn(socket.run(self.state.clone(), self.shutdown.subscribe()))
        });
        let served = self.server.await;
        self.shutdown.trigger();
        if let Some(handoff) = handoff {
            // It answers the mails in hand (at most 30 s) and removes its socket.
            let _ = handoff.await;
        }
        if let Some(poller) = imap {
            // The poller finishes the message in hand; it never holds one for long.
            if tokio::time::timeout(std::time::Duration::from_secs(30), poller)
                .await
                .is_err()
            {
                tracing::warn!("the IMAP poller did not stop in time");
            }
        }
        let joined = web::block(move || {
            let alerts_ok = alerts.is_none_or(|a| a.join().is_ok());
            let retention_ok = retention.is_none_or(|r| r.join().is_ok());
            worker.join().is_ok() && alerts_ok && retention_ok
        })
        .await;
        if !matches!(joined, Ok(true)) {
            tracing::error!("a background worker ended abnormally");
        }
        served
    }

    async fn warn_without_staff(&self) {
        let count = crate::http::blocking(&self.state, |_, conn| db::staff::count_active(conn));
        if let Ok(0) = count.await {
            tracing::warn!(
                "no staff account yet; create one with: \
                 echo 'PASSWORD' | madoguchi staff add --email E --name N --role supervisor"
            );
        }
    }
}
