//! The command line (docs/CONTRACT.md §1). Exit codes follow sysexits: 64 usage, 65 bad data,
//! 69 unavailable, 75 try again later, 78 configuration.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{LogLevel, Settings};
use crate::db::{self, DbError};
use crate::desk::{self, DeskError};
use crate::domain::vocabulary::{QuarantineId, Role};
use crate::intake::Outcome;
use crate::intake::mail;
use crate::startup::{Application, StartError, build_command_state, build_intake_state};
use crate::state::AppState;
use crate::timesource::SystemTime;
use std::sync::Arc;

mod ingest;
mod progress;
mod records;

pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_NOINPUT: u8 = 66;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_CONFIG: u8 = 78;

#[derive(Parser, Debug)]
#[command(name = "madoguchi", version, about = "窓口 — the consultation window")]
pub struct Cli {
    /// A TOML file layered over the built-in config/default.toml.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP and run the background workers (default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Store raw RFC 5322 messages from files, or one message on stdin, as mail intake does.
    /// Exit 0: stored (or a duplicate, or quarantined); 75: not stored, try again.
    Ingest {
        /// Message files; none means one message on standard input.
        files: Vec<PathBuf>,
    },
    /// Mail that could not be taken.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Manage staff accounts.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Erase the personal data of consultations closed longer ago than
    /// retention.erase_after_years.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Write every ticket with its thread and attachments (JSON and .eml) into a folder, for
    /// the operator who takes the commission over.
    Export {
        /// The folder to write; it must be empty or new.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Write into a folder that is not empty.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCommand {
    /// Erase what is due now; each ticket in one transaction, so a rerun finishes a run cut short.
    Run {
        /// Count what would be erased and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Create a staff account; the password is the first line of standard input.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// `counsellor` or `supervisor`.
        #[arg(long, value_parser = roles())]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuarantineCommand {
    /// List quarantined mail, newest first.
    List {
        /// Also list mail that was taken on a later retry.
        #[arg(long)]
        all: bool,
    },
    /// Try one quarantined mail again.
    Retry { id: i64 },
}

fn roles() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Role::ALL.iter().map(|r| r.as_str()))
}

pub fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(EX_CONFIG, &e),
    };
    init_logging(settings.log.level);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => match db::connect_for_command(&settings.database) {
            Ok(_) => {
                println!("migrations are up to date");
                ExitCode::SUCCESS
            }
            Err(e) => fail(db_exit(&e), &e),
        },
        Command::Staff {
            command: StaffCommand::Add { email, name, role },
        } => staff_add(&settings, &email, &name, &role),
        Command::Ingest { files } => ingest::run(settings, &files),
        Command::Quarantine { command } => quarantine(settings, command),
        Command::Retention {
            command: RetentionCommand::Run { dry_run },
        } => records::retention(state_for_command(settings), dry_run),
        Command::Export { out, force } => records::export(state_for_command(settings), &out, force),
    }
}

fn serve(settings: Settings) -> ExitCode {
    let app = match Application::build(settings) {
        Ok(app) => app,
        Err(e) => return fail(start_exit(&e), &e),
    };
    tracing::info!(port = app.port(), "madoguchi is serving");
    let runtime = actix_web::rt::System::new();
    match runtime.block_on(app.run_until_signalled()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(1, &e),
    }
}

fn staff_add(settings: &Settings, email: &str, name: &str, role: &str) -> ExitCode {
    let mut password = String::new();
    if let Err(e) = std::io::stdin().lock().read_line(&mut password) {
        return fail(
            EX_USAGE,
            &format!("cannot read the password from stdin: {e}"),
        );
    }
    let password = password.trim_end_matches(['\r', '\n']);
    let pool = match db::connect_for_command(&settings.database) {
        Ok(p) => p,
        Err(e) => return fail(db_exit(&e), &e),
    };
    let created = match pool.get() {
        Ok(mut conn) => {
            desk::staff::create(&mut conn, email, name, role, password, chrono::Utc::now())
        }
        Err(e) => Err(DeskError::Db(DbError::from(e))),
    };
    match created {
        Ok(id) => {
            println!("staff account {id} created ({role})");
            ExitCode::SUCCESS
        }
        Err(DeskError::Invalid(fields)) => {
            let why: Vec<String> = fields
                .iter()
                .map(|(f, c)| match (*f, *c) {
                    ("password", _) => format!(
                        "the password must have at least {} characters",
                        crate::desk::auth::passwords::MIN_LENGTH
                    ),
                    (f, c) => format!("--{f} is {c}"),
                })
                .collect();
            fail(EX_USAGE, &why.join("; "))
        }
        Err(e @ DeskError::AccountExists) => fail(EX_DATAERR, &e),
        Err(DeskError::Db(e)) => fail(db_exit(&e), &e),
        Err(e) => fail(EX_UNAVAILABLE, &e),
    }
}

pub(crate) fn state_for_command(settings: Settings) -> Result<AppState, ExitCode> {
    build_command_state(settings, Arc::new(SystemTime)).map_err(|e| fail(start_exit(&e), &e))
}

/// The state for `ingest` and `quarantine`, which take mail and need no case fields.
fn state_for_intake(settings: Settings) -> Result<AppState, ExitCode> {
    build_intake_state(settings, Arc::new(SystemTime)).map_err(|e| fail(start_exit(&e), &e))
}

/// The intake's state and a connection of its pool: what `ingest` and `quarantine` work with.
pub(crate) fn intake_at_hand(settings: Settings) -> Result<(AppState, db::PooledConn), ExitCode> {
    let state = state_for_intake(settings)?;
    let conn = state
        .pool
        .get()
        .map_err(|e| fail(EX_TEMPFAIL, &DbError::from(e)))?;
    Ok((state, conn))
}

fn quarantine(settings: Settings, command: QuarantineCommand) -> ExitCode {
    let (state, mut conn) = match intake_at_hand(settings) {
        Ok(at_hand) => at_hand,
        Err(code) => return code,
    };
    let tz = state.rules.tz;
    match command {
        QuarantineCommand::List { all } => match db::quarantine::list(&mut conn, all) {
            Ok(rows) => {
                for r in rows {
                    let state = if r.resolved_at.is_some() {
                        "taken"
                    } else {
                        "waiting"
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.id,
                        // In the centre's offset, as every time the API answers.
                        db::from_db(r.received_at).with_timezone(&tz).to_rfc3339(),
                        r.source,
                        state,
                        r.reason
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(db_exit(&e), &e),
        },
        QuarantineCommand::Retry { id } => match mail::retry(&state, &mut conn, QuarantineId(id)) {
            Ok(None) => fail(EX_DATAERR, &format!("no quarantined mail {id}")),
            Ok(Some(Outcome::Quarantined { .. })) => {
                println!("still quarantined");
                ExitCode::from(EX_DATAERR)
            }
            Ok(Some(outcome)) => {
                println!("{}", outcome.as_str());
                ExitCode::SUCCESS
            }
            Err(e) => fail(EX_TEMPFAIL, &e),
        },
    }
}

pub(crate) fn db_exit(e: &DbError) -> u8 {
    match e {
        DbError::Unavailable(_) => EX_TEMPFAIL,
        DbError::BadUrl(_) | DbError::NotWritable(_) => EX_CONFIG,
        _ => EX_UNAVAILABLE,
    }
}

fn start_exit(e: &StartError) -> u8 {
    match e {
        StartError::Config(_)
        | StartError::Template(_)
        | StartError::Mail(_)
        | StartError::Triage(_) => EX_CONFIG,
        StartError::Db(e) => db_exit(e),
        StartError::Bind(..) => EX_UNAVAILABLE,
    }
}

pub(crate) fn fail(code: u8, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("madoguchi: {e}");
    ExitCode::from(code)
}

fn init_logging(level: LogLevel) {
    let level = level.tracing();
    // Logs go to stderr, leaving stdout to command output.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}
