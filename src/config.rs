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
        self.alerts.digest_at()?;
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
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_example_reply_address_is_recognised() {
        let mut center = Settings::defaults().unwrap().center;
        assert!(center.reply_address_is_example(), "the shipped default");
        for example in [
            "a@EXAMPLE.com",
            "x@mail.example.net",
            "x@desk.example",
            "x@example.org.",
        ] {
            center.reply_address = example.into();
            assert!(center.reply_address_is_example(), "{example}");
        }
        for own in [
            "soudan@kokoro-recovery.org",
            "x@notexample.org",
            "x@example.org.jp",
        ] {
            center.reply_address = own.into();
            assert!(!center.reply_address_is_example(), "{own}");
        }
    }

    #[test]
    fn defaults_hold_the_contract_values() {
        let s = Settings::defaults().unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.database.url, "sqlite://data/madoguchi.db");
        assert_eq!(s.sla.reply_days, 10);
        assert_eq!(s.sla.closures, vec!["12-29..01-03".to_string()]);
        assert_eq!(s.smtp.transport, MailTransport::File);
        assert_eq!(s.intake.rate_limit_per_hour, 20);
        assert_eq!(s.center.phone, "011-863-8733");
        assert!(!s.imap.enabled);
    }

    #[test]
    fn crisis_lines_default_to_a_24_hour_line_and_can_be_replaced() {
        let s = Settings::defaults().unwrap();
        let yorisoi = &s.center.crisis_lines[0];
        assert_eq!(
            (
                yorisoi.name.as_str(),
                yorisoi.number.as_str(),
                yorisoi.hours.as_str()
            ),
            ("よりそいホットライン", "0120-279-338", "24時間・無料")
        );
        let s = Settings::load_from(
            None,
            env(&[(
                "MADOGUCHI_CENTER__CRISIS_LINES",
                r#"[{name = "夜の電話", number = "0120-000-000", hours = "22時～6時"}]"#,
            )]),
        )
        .unwrap();
        assert_eq!(s.center.crisis_lines.len(), 1);
        assert_eq!(s.center.crisis_lines[0].name, "夜の電話");
        let err = Settings::load_from(
            None,
            env(&[(
                "MADOGUCHI_CENTER__CRISIS_LINES",
                r#"[{name = "", number = "", hours = ""}]"#,
            )]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("center.crisis_lines"), "{err}");
    }

    #[test]
    fn env_overrides_by_the_type_of_the_default() {
        let s = Settings::load_from(
            None,
            env(&[
                ("MADOGUCHI_DATABASE__URL", "postgres://u@h:5432/d"),
                ("MADOGUCHI_SMTP__PORT", "2525"),
                ("MADOGUCHI_SMTP__PASSWORD", "12345"),
                ("MADOGUCHI_IMAP__ENABLED", "true"),
                ("MADOGUCHI_SLA__CLOSURES", "[\"08-13..08-16\"]"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database.url, "postgres://u@h:5432/d");
        assert_eq!(s.smtp.port, 2525);
        assert_eq!(s.smtp.password, "12345");
        assert!(s.imap.enabled);
        assert_eq!(s.sla.closures, vec!["08-13..08-16".to_string()]);
    }

    #[test]
    fn unknown_or_malformed_env_is_refused() {
        let err = Settings::load_from(None, env(&[("MADOGUCHI_SMTP__PROT", "1")])).unwrap_err();
        assert!(matches!(err, ConfigError::UnknownEnv(_)), "{err}");
        let err = Settings::load_from(None, env(&[("MADOGUCHI_SMTP__PORT", "x")])).unwrap_err();
        assert!(matches!(err, ConfigError::BadEnv(..)), "{err}");
    }

    #[test]
    fn imap_tls_is_one_of_three_words_and_a_wrong_one_names_its_key() {
        let s = Settings::load_from(None, env(&[("MADOGUCHI_IMAP__TLS", "starttls")])).unwrap();
        assert_eq!(s.imap.tls, ImapTls::Starttls);
        assert_eq!(Settings::defaults().unwrap().imap.tls, ImapTls::None);
        let err = Settings::load_from(None, env(&[("MADOGUCHI_IMAP__TLS", "ssl")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("imap.tls"), "{err}");
        assert!(err.contains("`none`, `starttls`, `tls`"), "{err}");
    }

    #[test]
    fn the_imap_ca_file_adds_its_certificates() {
        let path = std::env::temp_dir().join(format!("madoguchi-ca-{}.pem", std::process::id()));
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        std::fs::write(&path, ca.cert.pem().repeat(2)).unwrap();
        let mut s = Settings::defaults().unwrap();
        assert!(s.imap.extra_roots().unwrap().is_empty());
        s.imap.ca_file = path.display().to_string();
        assert_eq!(s.imap.extra_roots().unwrap().len(), 2);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_file_is_layered_over_the_defaults() {
        let dir = std::env::temp_dir().join(format!("madoguchi-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("site.toml");
        std::fs::write(
            &path,
            "[sla]\nmode = \"business\"\n[center]\nname = \"テスト\"\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&path), std::iter::empty()).unwrap();
        assert_eq!(s.sla.mode, SlaMode::Business);
        assert_eq!(s.center.name, "テスト");
        assert_eq!(s.sla.reply_days, 10, "untouched keys keep their default");
        std::fs::write(&path, "[sla]\nreply_dayz = 3\n").unwrap();
        assert!(Settings::load_from(Some(&path), std::iter::empty()).is_err());
        std::fs::write(&path, "[sla]\nmode = \"weekly\"\n").unwrap();
        let err = Settings::load_from(Some(&path), std::iter::empty()).unwrap_err();
        assert!(
            err.to_string().contains("`calendar` or `business`")
                && err.to_string().contains("sla.mode"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
