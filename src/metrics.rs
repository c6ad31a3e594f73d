//! Prometheus metrics, kept in memory per process and written out as text. Labels carry
//! route patterns, methods and outcomes only: no personal data.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the request-latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    intake: Mutex<BTreeMap<(String, String), u64>>,
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

impl Metrics {
    pub fn intake(&self, source: &str, outcome: &str) {
        let mut m = self.intake.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((source.to_string(), outcome.to_string()))
            .or_default() += 1;
    }

    /// `route` is the pattern (`/api/v1/tickets/{id}`), never the concrete path.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let h = m
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The process's own metrics in the text exposition format.
    pub fn render(&self, out: &mut String) {
        let intake = self
            .intake
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        out.push_str("# HELP madoguchi_intake_total Messages taken in, by source and outcome.\n");
        out.push_str("# TYPE madoguchi_intake_total counter\n");
        for ((source, outcome), n) in intake {
            let _ = writeln!(
                out,
                "madoguchi_intake_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        out.push_str("# HELP madoguchi_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE madoguchi_http_request_duration_seconds histogram\n");
        for ((method, route, status), h) in requests {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "madoguchi_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "madoguchi_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "madoguchi_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "madoguchi_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
    }
}

/// A gauge family from the database, written in the same format.
pub fn gauge<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (&'a str, i64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, n) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{value}\"}} {n}");
    }
}

/// A request method as a label: the standard methods by name, any other as `other`, so a
/// caller who invents methods cannot grow the metrics without bound.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let m = Metrics::default();
        m.request("GET", "/api/v1/tickets", 200, 0.003);
        m.request("GET", "/api/v1/tickets", 200, 0.2);
        m.intake("imap", "opened");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("madoguchi_intake_total{source=\"imap\",outcome=\"opened\"} 1"));
        let labels = "method=\"GET\",route=\"/api/v1/tickets\",status=\"200\"";
        assert!(out.contains(&format!("_bucket{{{labels},le=\"0.001\"}} 0")));
        assert!(out.contains(&format!("_bucket{{{labels},le=\"0.005\"}} 1")));
        assert!(out.contains(&format!("_bucket{{{labels},le=\"0.25\"}} 2")));
        assert!(out.contains(&format!("_count{{{labels}}} 2")));
    }
}
