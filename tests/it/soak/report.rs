//! The soak's one table, and what in it counts as a failure.

use std::time::Duration;

use super::Event;
use super::check::{Findings, Found, Memory};
use super::load::{Kinds, Stats};

pub struct Report {
    pub seconds: f64,
    /// Seconds since the start: the time was up, the clients had drained, the service had
    /// taken and sent everything.
    pub load_ended: f64,
    pub drained: f64,
    pub settled: f64,
    pub kinds: Kinds,
    pub findings: Findings,
    pub memory: Vec<Memory>,
    pub warm_up: f64,
    pub memory_bound_pct: f64,
    pub events: Vec<Event>,
    pub machine: String,
    /// Lines at ERROR in the log of the serve running at the end.
    pub serve_log_errors: usize,
}

/// Nearest-rank percentile of latencies, in ms.
fn pct(sorted: &[Duration], p: f64) -> String {
    if sorted.is_empty() {
        return "—".into();
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let ms = sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn retried(s: &Stats) -> (usize, String) {
    let parts: Vec<String> = [
        (s.failed_to_connect, "no connection"),
        (s.server_errors, "5xx"),
        (s.try_again, "exit 75"),
        (s.shown_again, "form shown again"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    let n = s.failed_to_connect + s.server_errors + s.try_again + s.shown_again;
    (n, parts.join(", "))
}

fn mib(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

impl Report {
    fn rows(&self) -> Vec<[String; 8]> {
        let mut rows = Vec::new();
        let found = |kind: &str| self.findings.kinds.get(kind).cloned();
        for (kind, stats) in &self.kinds {
            let mut latencies = stats.latencies.clone();
            latencies.sort_unstable();
            let (n, why) = retried(stats);
            let f: Option<Found> = match *kind {
                "reply" => Some(self.findings.replies.clone()),
                k => found(k),
            };
            let (lost, doubled) = f.as_ref().map_or(("—".into(), "—".into()), |f| {
                (f.lost.to_string(), f.doubled.to_string())
            });
            let mut notes = vec![why];
            if let Some(f) = &f {
                if f.wrong_ticket > 0 {
                    notes.push(format!("{} on the wrong consultation", f.wrong_ticket));
                }
                if kind.starts_with("follow-up") {
                    notes.push("each joined its consultation".into());
                }
                if *kind == "reply" {
                    notes.push("looked for at the SMTP server".into());
                }
            }
            if stats.unexpected_count > 0 {
                notes.push(format!(
                    "{} unexpected: {:?}",
                    stats.unexpected_count, stats.unexpected
                ));
            }
            if stats.given_up > 0 {
                notes.push(format!("{} given up", stats.given_up));
            }
            rows.push([
                kind.to_string(),
                format!("{}/{}", stats.acknowledged, stats.attempted),
                n.to_string(),
                lost,
                doubled,
                pct(&latencies, 50.0),
                pct(&latencies, 99.0),
                notes
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .collect::<Vec<_>>()
                    .join("; "),
            ]);
        }
        let o = &self.findings.outbox;
        rows.push([
            "mail out (outbox → SMTP server)".into(),
            format!("{}/{}", o.sent, o.rows),
            "—".into(),
            o.missing_at_server.to_string(),
            o.sent_twice.to_string(),
            "—".into(),
            "—".into(),
            format!(
                "{} not sent at the end; {} tickets without an acknowledgement",
                o.not_sent, self.findings.unacknowledged_tickets
            ),
        ]);
        for m in &self.memory {
            rows.push([
                format!("serve RSS, process {} ({:.0} s)", m.process, m.seconds),
                format!("{} samples", m.samples),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                format!(
                    "min {} / median {} / max {} MiB; after {:.0} s warm-up first tenth {} → last tenth {} MiB ({:+.1} %, bound {:.0} %)",
                    mib(m.min_kb),
                    mib(m.median_kb),
                    mib(m.max_kb),
                    self.warm_up,
                    mib(m.early_kb),
                    mib(m.late_kb),
                    m.growth_pct,
                    self.memory_bound_pct
                ),
            ]);
        }
        for (i, e) in self.events.iter().enumerate() {
            // Failures from the event until the next one (or the end of the drain).
            let until = self.events.get(i + 1).map_or(self.drained, |n| n.at - 0.5);
            let failures: Vec<f64> = self
                .kinds
                .values()
                .flat_map(|s| s.failures_at.iter().copied())
                .filter(|t| *t >= e.at - 0.5 && *t < until)
                .collect();
            let last = failures.iter().copied().fold(f64::NAN, f64::max);
            rows.push([
                format!("{} at {:.1} s", e.what, e.at),
                "—".into(),
                failures.len().to_string(),
                "—".into(),
                "—".into(),
                "—".into(),
                "—".into(),
                if failures.is_empty() {
                    format!("back after {:.1} s; no client saw a failure", e.took)
                } else {
                    format!(
                        "back after {:.1} s; clients' last failure {:.1} s after it",
                        e.took,
                        last - e.at
                    )
                },
            ]);
        }
        rows
    }

    pub fn print(&self) {
        println!(
            "== soak: {:.0} s of mixed load (form, API, ingest, IMAP, staff), {} ",
            self.seconds,
            self.events
                .iter()
                .map(|e| e.what.as_str())
                .collect::<Vec<_>>()
                .join(", then ")
        );
        let header = [
            "what",
            "acked/tried",
            "retries",
            "lost",
            "doubled",
            "p50 ms",
            "p99 ms",
            "notes",
        ]
        .map(String::from);
        let rows = self.rows();
        let width = |i: usize| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..8).map(width).collect();
        let line = |cells: &[String; 8]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
                .collect();
            println!("| {} |", padded.join(" | "));
        };
        line(&header);
        println!(
            "|-{}-|",
            widths
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("-|-")
        );
        for r in &rows {
            line(r);
        }
        println!(
            "load ended at {:.1} s, clients drained at {:.1} s, everything taken and sent at {:.1} s; \
             {} ERROR lines in the last serve's log",
            self.load_ended, self.drained, self.settled, self.serve_log_errors
        );
        println!("machine: {}", self.machine);
        for e in &self.findings.examples {
            println!("  {e}");
        }
        let problems = self.problems();
        if problems.is_empty() {
            println!("verdict: nothing lost, doubles within bounds, memory flat");
        } else {
            println!("verdict: {} problem(s):", problems.len());
            for p in problems {
                println!("  - {p}");
            }
        }
    }

    /// Everything that fails the soak: a loss, more than 2 doubles, memory that grew.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let f = &self.findings;
        let lost: usize = f.kinds.values().map(|k| k.lost).sum::<usize>() + f.replies.lost;
        if lost > 0 {
            p.push(format!("{lost} acknowledged items lost"));
        }
        let doubled: usize = f.kinds.values().map(|k| k.doubled).sum();
        if doubled > 2 {
            p.push(format!(
                "{doubled} consultations or mails stored twice (at most 2)"
            ));
        }
        let mails_doubled = f.outbox.sent_twice + f.replies.doubled;
        if mails_doubled > 2 {
            p.push(format!(
                "{mails_doubled} mails doubled at the SMTP server (at most 2)"
            ));
        }
        let wrong: usize = f.kinds.values().map(|k| k.wrong_ticket).sum();
        if wrong > 0 {
            p.push(format!("{wrong} follow-ups on the wrong consultation"));
        }
        if f.outbox.not_sent > 0 || f.outbox.missing_at_server > 0 {
            p.push(format!(
                "{} mails not sent, {} marked sent but not at the SMTP server",
                f.outbox.not_sent, f.outbox.missing_at_server
            ));
        }
        if f.unacknowledged_tickets > 0 {
            p.push(format!(
                "{} tickets without an acknowledgement",
                f.unacknowledged_tickets
            ));
        }
        for (kind, s) in &self.kinds {
            if s.unexpected_count > 0 {
                p.push(format!(
                    "{kind}: {} unexpected answers {:?}",
                    s.unexpected_count, s.unexpected
                ));
            }
            if s.given_up > 0 {
                p.push(format!("{kind}: {} items never acknowledged", s.given_up));
            }
            if s.acknowledged == 0 && !kind.starts_with("follow-up") {
                p.push(format!("{kind}: nothing acknowledged at all"));
            }
        }
        for m in &self.memory {
            if m.growth_pct > self.memory_bound_pct {
                p.push(format!(
                    "serve process {}: RSS grew {:.1} % (bound {:.0} %)",
                    m.process, m.growth_pct, self.memory_bound_pct
                ));
            }
        }
        if self.memory.len() < 2 {
            p.push(format!(
                "memory sampled for {} serve processes, not 2",
                self.memory.len()
            ));
        }
        p
    }
}

/// How busy the machine was: all CPUs, and the soak itself (driver, serve, ingest).
pub struct Load {
    machine: (u64, u64),
    own: u64,
    loadavg: String,
}

fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (fields.iter().sum(), idle)
}

/// utime stime (and, for ourselves, the children waited for) from /proc/PID/stat.
fn ticks(pid: &str, fields: usize) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .skip(11)
        .take(fields)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Load {
    pub fn start() -> Self {
        Self {
            machine: machine_ticks(),
            own: ticks("self", 4),
            loadavg: loadavg(),
        }
    }

    /// E.g. "2 CPUs; loadavg 1.2 0.9 0.8 at start, …; cpu 60 % (soak 35 %, others 25 %)".
    pub fn finish(&self, serve_pid: u32) -> String {
        let (total, idle) = machine_ticks();
        let d_total = total.saturating_sub(self.machine.0).max(1) as f64;
        let busy = d_total - idle.saturating_sub(self.machine.1) as f64;
        let own =
            (ticks("self", 4) + ticks(&serve_pid.to_string(), 2)).saturating_sub(self.own) as f64;
        let pct = |v: f64| (100.0 * v / d_total).round();
        format!(
            "{} CPUs; loadavg {} at start, {} at end; all CPUs busy {} % (the soak {} %, others {} %)",
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            self.loadavg,
            loadavg(),
            pct(busy),
            pct(own.min(busy)),
            pct((busy - own).max(0.0))
        )
    }
}
