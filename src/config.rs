//! Settings: the built-in `config/default.toml`, then an optional file, then
//! `MADOGUCHI_<SECTION>__<KEY>` environment variables.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use toml::{Table, Value};

use crate::domain::calendar::{BusinessCalendar, Closure};
use crate::domain::clock::ClockRules;
pub use crate::domain::clock::SlaMode;
use crate::domain::vocabulary::words;

words!(
    /// How mail leaves.
    MailTransport, "smtp.transport" {
        /// `.eml` files in `smtp.file_dir`: a fresh install never reaches out to a server.
        File = "file",
        Smtp = "smtp",
    }
);

words!(
    SmtpTls, "smtp.tls" {
        None = "none",
        Starttls = "starttls",
        Tls = "tls",
    }
);

words!(
    /// SQLite's `synchronous` pragma.
    SqliteSynchronous, "database.sqlite_synchronous" {
        /// Each commit survives a power cut (an fsync per commit).
        Full = "full",
        /// Survives a crash of madoguchi itself; the last commits may be lost on a power cut.
        Normal = "normal",
    }
);

words!(
    LogLevel, "log.level" {
        Error = "error",
        Warn = "warn",
        Info = "info",
        Debug = "debug",
        Trace = "trace",
    }
);

impl LogLevel {
    pub fn tracing(self) -> tracing::Level {
        match self {
            Self::Error => tracing::Level::ERROR,
            Self::Warn => tracing::Level::WARN,
            Self::Info => tracing::Level::INFO,
            Self::Debug => tracing::Level::DEBUG,
            Self::Trace => tracing::Level::TRACE,
        }
    }
}

/// The defaults are compiled in so the binary runs from any folder.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "MADOGUCHI_";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub center: CenterSettings,
    pub sla: SlaSettings,
    pub intake: IntakeSettings,
    pub smtp: SmtpSettings,
    pub imap: ImapSettings,
    pub auth: AuthSettings,
    pub templates: TemplateSettings,
    pub alerts: AlertSettings,
    pub triage: TriageSettings,
    pub log: LogSettings,
    pub review: ReviewSettings,
    pub statistics: StatisticsSettings,
    pub retention: RetentionSettings,
    pub my_page: MyPageSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub public_base_url: String,
    pub workers: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed (CONTRACT.md §6).
    pub trusted_proxies: Vec<crate::domain::proxies::TrustedProxy>,
    /// A request's body must have arrived this many seconds after the request began.
    pub body_timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub sqlite_synchronous: SqliteSynchronous,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CenterSettings {
    pub name: String,
    pub timezone: String,
    pub reply_address: String,
    pub phone: String,
    pub phone_hours: String,
    pub postal_address: String,
    pub website: String,
    /// Lines that answer when the centre's does not (nights, holidays): CONTRACT §6.
    pub crisis_lines: Vec<CrisisLine>,
}

impl CenterSettings {
    /// Whether `reply_address` is still an address of the domains kept for examples (RFC
    /// 2606: example.org and its kin, `.example`): every mail would go out from a mailbox
    /// nobody reads, and consulters' answers would be lost.
    pub fn reply_address_is_example(&self) -> bool {
        let domain = self
            .reply_address
            .rsplit_once('@')
            .map_or("", |(_, d)| d)
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        ["example.org", "example.com", "example.net", "example"]
            .iter()
            .any(|e| domain == *e || domain.ends_with(&format!(".{e}")))
    }
}

/// A telephone line shown to a person who may be in danger now.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLine {
    pub name: String,
    pub number: String,
    pub hours: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    pub reply_days: u32,
    pub mode: SlaMode,
    pub due_soon_days: u32,
    pub closures: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub max_attachment_bytes: u64,
    /// A whole mail larger than this is refused by `ingest` (exit 65), read no further.
    pub max_message_bytes: u64,
    pub rate_limit_per_hour: u32,
    pub max_body_chars: usize,
    /// Signs the consultation form's token; empty: a random secret for each start.
    pub form_secret: String,
    /// `ingest` of one mail hands it to a running `serve` (`intake::handoff`).
    pub handoff: bool,
    /// Empty: beside the SQLite file; none for PostgreSQL unless named.
    pub handoff_socket: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub transport: MailTransport,
    pub file_dir: String,
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: String,
    pub retry_base_seconds: u64,
    pub give_up_after_hours: u64,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
    pub tls: ImapTls,
    /// A PEM file of roots trusted besides the system's; empty: the system's alone.
    pub ca_file: String,
    pub username: String,
    pub password: String,
    pub mailbox: String,
    pub poll_seconds: u64,
}

/// How the IMAP connection is protected. The certificate and the host name are always verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// Plain text; for a server on the same machine or a trusted network.
    None,
    /// Plain connection, upgraded with STARTTLS before LOGIN (port 143).
    Starttls,
    /// TLS from the first byte (port 993).
    Tls,
}

impl ImapSettings {
    /// The certificates of `ca_file`, trusted besides the system's roots.
    pub fn extra_roots(&self) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
        if self.ca_file.is_empty() {
            return Ok(Vec::new());
        }
        let bad =
            |why: String| ConfigError::Invalid(format!("imap.ca_file \"{}\": {why}", self.ca_file));
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.ca_file)
            .and_then(|certs| certs.collect())
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate".into()));
        }
        Ok(certs)
    }

    /// The name the server's certificate must carry: `host`, a DNS name or an IP address.
    pub fn server_name(&self) -> Result<ServerName<'static>, ConfigError> {
        ServerName::try_from(self.host.clone()).map_err(|_| {
            ConfigError::Invalid(format!(
                "imap.host \"{}\" is no host name or IP address a certificate can be issued for",
                self.host
            ))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub session_idle_hours: u32,
    /// However busy, a sign-in ends this long after it began (a token copied once does not
    /// stay good for ever by being used).
    pub session_max_hours: u32,
    /// Password checks run at once (each takes 19 MiB for its moment); 0 = one per core.
    pub parallel_password_checks: usize,
    pub max_failed_logins: u32,
    pub cooling_off_minutes: u32,
}

/// The case fields' codes and labels for the city's yearly figures (CONTRACT §9).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatisticsSettings {
    /// A file in the form of `config/statistics.toml`; empty = the built-in one.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    pub dir: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    pub enabled: bool,
    pub digest_time: String,
}

impl AlertSettings {
    /// The digest's local time of day, if there is a digest.
    pub fn digest_at(&self) -> Result<Option<chrono::NaiveTime>, ConfigError> {
        if self.digest_time.is_empty() {
            return Ok(None);
        }
        chrono::NaiveTime::parse_from_str(&self.digest_time, "%H:%M")
            .map(Some)
            .map_err(|_| ConfigError::Invalid("alerts.digest_time must be HH:MM".into()))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageSettings {
    pub dir: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: LogLevel,
}

/// Reply review (CONTRACT §8): which replies a supervisor reads before they go out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    /// Every reply on an urgent ticket by a counsellor is held, and supervisors told at once.
    pub urgent_tickets: bool,
    /// A reply waiting this long (business hours in business mode) reminds the supervisors.
    pub remind_after_hours: u32,
}

/// The consulter's own page, /my (CONTRACT §10).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyPageSettings {
    /// A page left alone this long closes (a shared computer).
    pub idle_minutes: u32,
    /// Failed sign-ins per reference (from anywhere) before a cooling-off; an address gets
    /// four times as many, across references.
    pub max_failed_sign_ins: u32,
    pub cooling_off_minutes: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {1}", path = .0.display())]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {msg}", msg = one_line(&.1.to_string()))]
    Parse(String, toml::de::Error),
    #[error("{0} names no setting")]
    UnknownEnv(String),
    #[error("{0}: {1}")]
    BadEnv(String, String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = parse(DEFAULT_TOML, "config/default.toml")?;
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
            merge(&mut table, parse(&text, &path.display().to_string())?);
        }
        for (var, raw) in env {
            if let Some(name) = var.strip_prefix(ENV_PREFIX) {
                apply_env(&mut table, &var, name, &raw)?;
            }
        }
        let settings: Settings = Value::Table(table)
            .try_into()
            .map_err(|e| ConfigError::Parse("configuration".into(), e))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults alone, with no environment (tests start from here).
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::load_from(None, std::iter::empty())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.clock_rules()?;
        // The built-in file is checked by its tests; parsing it at every start was a tenth of
        // a one-mail `ingest` process. A centre's own file is checked here.
        if !self.statistics.file.is_empty() {
            self.case_fields()?;
        }
        self.alerts.digest_at()?;
        self.retention.run_at()?;
        // A CA file that cannot be read stops the start, rather than every connection later.
        if self.imap.enabled && self.imap.tls != ImapTls::None {
            self.imap.server_name()?;
            self.imap.extra_roots()?;
        }
        if !self.center.reply_address.contains('@') {
            return Err(ConfigError::Invalid(
                "center.reply_address must be a mail address".into(),
            ));
        }
        if let Some(line) = self
            .center
            .crisis_lines
            .iter()
            .find(|l| l.name.trim().is_empty() || !l.number.chars().any(|c| c.is_ascii_digit()))
        {
            return Err(ConfigError::Invalid(format!(
                "center.crisis_lines: each line needs a name and a number (\"{}\", \"{}\")",
                line.name, line.number
            )));
        }
        if self.auth.session_max_hours == 0 || self.auth.session_idle_hours == 0 {
            return Err(ConfigError::Invalid(
                "auth.session_idle_hours and auth.session_max_hours must be at least 1".into(),
            ));
        }
        if self.server.body_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "server.body_timeout_seconds must be at least 1".into(),
            ));
        }
        if self.database.pool_size == 0 {
            return Err(ConfigError::Invalid(
                "database.pool_size must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The reply clock's rules, checked once at start so bad values stop the service early.
    pub fn clock_rules(&self) -> Result<ClockRules, ConfigError> {
        let tz = self.center.timezone.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "center.timezone \"{}\" is no IANA time zone",
                self.center.timezone
            ))
        })?;
        let closures = self
            .sla
            .closures
            .iter()
            .map(|c| {
                c.parse::<Closure>()
                    .map_err(|e| ConfigError::Invalid(format!("sla.closures \"{c}\": {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !(1..=365).contains(&self.sla.reply_days) {
            return Err(ConfigError::Invalid(
                "sla.reply_days must be between 1 and 365".into(),
            ));
        }
        let calendar = BusinessCalendar::new(closures);
        if calendar
            .next_business_day_after(chrono::Utc::now().date_naive())
            .is_none()
        {
            return Err(ConfigError::Invalid(
                "sla.closures leave no business day in the year".into(),
            ));
        }
        Ok(ClockRules {
            reply_days: self.sla.reply_days,
            mode: self.sla.mode,
            due_soon: chrono::Duration::days(i64::from(self.sla.due_soon_days)),
            tz,
            calendar,
        })
    }
}

impl Settings {
    /// The case fields: the built-in `config/statistics.toml`, or `statistics.file` in its
    /// stead. Checked at every start, so a wrong file stops the service with its reason.
    pub fn case_fields(&self) -> Result<crate::domain::case_fields::CaseFields, ConfigError> {
        use crate::domain::case_fields::CaseFields;
        if self.statistics.file.is_empty() {
            return Ok(CaseFields::built_in());
        }
        let path = Path::new(&self.statistics.file);
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.into(), e))?;
        CaseFields::parse(&text).map_err(|why| {
            ConfigError::Invalid(format!("statistics.file {}: {why}", path.display()))
        })
    }
}

/// toml puts the key on a line of its own; one line reads better on a terminal and in logs.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse(text: &str, source: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>()
        .map_err(|e| ConfigError::Parse(source.to_string(), e))
}

fn merge(base: &mut Table, over: Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The default's type decides how the text is read, so a password of digits stays a string.
fn apply_env(table: &mut Table, var: &str, name: &str, raw: &str) -> Result<(), ConfigError> {
    let Some((section, key)) = name.split_once("__") else {
        return Err(ConfigError::UnknownEnv(var.into()));
    };
    let slot = table
        .get_mut(&section.to_ascii_lowercase())
        .and_then(Value::as_table_mut)
        .and_then(|t| t.get_mut(&key.to_ascii_lowercase()))
        .ok_or_else(|| ConfigError::UnknownEnv(var.into()))?;
    let bad = |what: &str| ConfigError::BadEnv(var.into(), format!("expected {what}"));
    *slot = match slot {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| bad("a whole number"))?),
        Value::Boolean(_) => Value::Boolean(raw.trim().parse().map_err(|_| bad("true or false"))?),
        _ => {
            let doc = format!("v = {raw}");
            let mut parsed = doc
                .parse::<Table>()
                .map_err(|_| bad("a TOML value such as [\"12-29..01-03\"]"))?;
            parsed.remove("v").ok_or_else(|| bad("a TOML value"))?
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests;

/// Retention (CONTRACT.md §9): how long a closed consultation keeps its personal data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Years after closing; 0 = never erase.
    pub erase_after_years: u32,
    /// Whether `serve` runs the day's erasure itself (off: `madoguchi retention run` from cron).
    pub daily_job: bool,
    /// Local time of day from which `serve` runs the day's erasure.
    pub run_time: String,
    /// A pause after each erased ticket, so a long first run leaves the database to the desk.
    pub pause_ms: u64,
}

impl RetentionSettings {
    pub fn run_at(&self) -> Result<chrono::NaiveTime, ConfigError> {
        chrono::NaiveTime::parse_from_str(&self.run_time, "%H:%M")
            .map_err(|_| ConfigError::Invalid("retention.run_time must be HH:MM".into()))
    }
}
