//! The soak's clients, and what they share: people at the form and programs on the API here;
//! mail in `mail_in.rs`, staff in `staff.rs`. Each retries what failed to reach the service (no connection, a 5xx,
//! exit 75), counting it, and records an item as stored only once it was acknowledged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What every client shares: where the service is now, and when to stop.
pub struct Shared {
    pub started: Instant,
    /// The port of the `serve` running now (it changes when serve is started again).
    pub port: AtomicU16,
    /// Set when the run's time is up: each client finishes the item in hand, then stops.
    pub stop: AtomicBool,
    /// Milliseconds after `started` past which a client gives up retrying (0: never).
    pub give_up_at_ms: AtomicU64,
    pub next_item: AtomicUsize,
    pub ledger: Mutex<Ledger>,
    /// The environment `serve` and `ingest` run with.
    pub env: Vec<(String, String)>,
    pub bin: PathBuf,
    pub mail_dir: PathBuf,
}

impl Shared {
    pub fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn given_up(&self) -> bool {
        let at = self.give_up_at_ms.load(Ordering::Relaxed);
        at != 0 && self.started.elapsed().as_millis() as u64 > at
    }

    pub fn marker(&self, kind: &str) -> String {
        format!(
            "soak-{kind}-{:06}",
            self.next_item.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}{path}",
            self.port.load(Ordering::Relaxed)
        )
    }
}

/// Everything the service acknowledged, to be looked for at the end.
#[derive(Default)]
pub struct Ledger {
    /// Form and API consultations: (kind, marker in the subject, reference answered, address).
    pub consultations: Vec<(&'static str, String, String, String)>,
    /// Mail taken by `ingest` (exit 0) or appended to the mailbox: (kind, Message-ID, the
    /// reference a follow-up must join).
    pub mails: Vec<(&'static str, String, Option<String>)>,
    /// Replies answered 202: the marker in their text.
    pub replies: Vec<String>,
}

/// One kind of work, as a client saw it.
#[derive(Default, Clone)]
pub struct Stats {
    /// Items begun and items acknowledged (stored, read, signed in).
    pub attempted: usize,
    pub acknowledged: usize,
    pub failed_to_connect: usize,
    pub server_errors: usize,
    /// `ingest` exit 75 (database unavailable, try again).
    pub try_again: usize,
    /// A form shown again to be sent once more (its token not taken).
    pub shown_again: usize,
    /// Still not acknowledged when the drain ended.
    pub given_up: usize,
    /// Answers no client should get (a 4xx, a wrong page): the first few, described.
    pub unexpected: Vec<String>,
    pub unexpected_count: usize,
    /// Of acknowledged items, the time from first try to acknowledgement.
    pub latencies: Vec<Duration>,
    /// When something failed, in seconds since the start.
    pub failures_at: Vec<f64>,
}

impl Stats {
    pub fn merge(&mut self, o: &Stats) {
        self.attempted += o.attempted;
        self.acknowledged += o.acknowledged;
        self.failed_to_connect += o.failed_to_connect;
        self.server_errors += o.server_errors;
        self.try_again += o.try_again;
        self.shown_again += o.shown_again;
        self.given_up += o.given_up;
        self.unexpected_count += o.unexpected_count;
        for u in &o.unexpected {
            if self.unexpected.len() < 5 {
                self.unexpected.push(u.clone());
            }
        }
        self.latencies.extend(&o.latencies);
        self.failures_at.extend(&o.failures_at);
    }

    pub fn unexpected(&mut self, what: String) {
        self.unexpected_count += 1;
        if self.unexpected.len() < 5 {
            self.unexpected.push(what);
        }
    }
}

pub type Kinds = BTreeMap<&'static str, Stats>;

/// An answer read whole.
pub struct Answer {
    pub status: u16,
    pub cookie: String,
    pub body: String,
}

pub enum Body<'a> {
    None,
    Json(&'a Value),
    Form(&'a [(&'a str, &'a str)]),
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One HTTP client (keep-alive, as a browser or an API client is).
pub struct Client {
    agent: ureq::Agent,
    shared: Arc<Shared>,
}

impl Client {
    pub fn new(shared: &Arc<Shared>) -> Self {
        Self {
            agent: agent(),
            shared: shared.clone(),
        }
    }

    pub fn once(
        &self,
        method: &str,
        path: &str,
        auth: Auth<'_>,
        body: Body<'_>,
    ) -> Result<Answer, String> {
        let url = self.shared.url(path);
        let answer = match method {
            "GET" => self.agent.get(&url).with_auth(auth).call(),
            _ => {
                let req = self.agent.post(&url).with_auth(auth);
                match body {
                    Body::None => req.send_empty(),
                    Body::Json(v) => req.send_json(v),
                    Body::Form(f) => req.send_form(f.iter().copied()),
                }
            }
        };
        let mut r = answer.map_err(|e| e.to_string())?;
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()
                    .filter(|c| c.starts_with("madoguchi_desk="))
            })
            .unwrap_or("")
            .to_string();
        let body = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
        Ok(Answer {
            status: r.status().as_u16(),
            cookie,
            body,
        })
    }
}

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

trait WithAuth {
    fn with_auth(self, auth: Auth<'_>) -> Self;
}

impl<B> WithAuth for ureq::RequestBuilder<B> {
    fn with_auth(self, auth: Auth<'_>) -> Self {
        match auth {
            Auth::None => self,
            Auth::Bearer(t) => self.header("authorization", format!("Bearer {t}")),
            Auth::Cookie(c) => self.header("cookie", c),
        }
    }
}

/// Tries until the service answers with something other than a 5xx, counting every failure;
/// None once the drain's deadline has passed.
pub fn until_answered(
    shared: &Shared,
    stats: &mut Stats,
    mut call: impl FnMut() -> Result<Answer, String>,
) -> Option<Answer> {
    loop {
        match call() {
            Ok(a) if a.status < 500 => return Some(a),
            Ok(_) => stats.server_errors += 1,
            Err(_) => stats.failed_to_connect += 1,
        }
        stats.failures_at.push(shared.secs());
        if shared.given_up() {
            stats.given_up += 1;
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits out the rest of a client's beat, or less when the run is over.
pub fn pause(shared: &Shared, since: Instant, beat: Duration) {
    while since.elapsed() < beat && !shared.stopping() {
        std::thread::sleep((beat - since.elapsed()).min(Duration::from_millis(100)));
    }
}

/// xorshift64*: each client's own, so runs are alike.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

pub const SUBJECTS: &[&str] = &[
    "息子のことで相談です",
    "娘が部屋から出てきません",
    "自分自身のことでご相談",
    "家族の接し方について",
];
pub const BODIES: &[&str] = &[
    "息子が高校を中退してから、五年ほど自分の部屋からほとんど出てきません。どう声をかけたらよいでしょうか。",
    "人と話すことが怖くなり、コンビニに行くのにも勇気が必要です。まずはメールで相談できればと思いました。",
    "親も高齢になり、このままではいけないと頭では分かっています。訪問していただくことは可能でしょうか。",
    "娘は中学二年生の秋から学校に行けなくなり、今は二十二歳になりました。家の中では穏やかに過ごしています。",
];

fn reference_on(receipt: &str) -> Option<String> {
    let at = receipt.find("<p class=\"reference\">")? + "<p class=\"reference\">".len();
    let len = receipt[at..].find('<')?;
    Some(receipt[at..at + len].trim().to_string())
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_string())
}

/// A person at `/consult`: the form is served, filled in for a few seconds, and sent.
pub fn form(shared: Arc<Shared>, beat: Duration, seed: u64) -> Kinds {
    let client = Client::new(&shared);
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    while !shared.stopping() {
        let began = Instant::now();
        let marker = shared.marker("form");
        let email = format!("{marker}@example.jp");
        let subject = format!("{marker} {}", SUBJECTS[rng.below(SUBJECTS.len())]);
        let body = BODIES[rng.below(BODIES.len())];
        stats.attempted += 1;
        // Until the form is taken: a form shown again is filled in again from a fresh page.
        while let Some(page) = until_answered(&shared, &mut stats, || {
            client.once("GET", "/consult", Auth::None, Body::None)
        }) {
            let Some(token) = hidden_value(&page.body, "form_token").filter(|_| page.status == 200)
            else {
                stats.unexpected(format!("GET /consult answered {}", page.status));
                break;
            };
            // A form sent back sooner than 3 seconds is shown again (CONTRACT §6).
            std::thread::sleep(Duration::from_millis(3100));
            let fields = [
                ("name", "山田 花子"),
                ("email", email.as_str()),
                ("relationship", "family"),
                ("subject", subject.as_str()),
                ("body", body),
                ("consent", "true"),
                ("form_token", token.as_str()),
                ("homepage", ""),
            ];
            let sent = Instant::now();
            let Some(answer) = until_answered(&shared, &mut stats, || {
                client.once("POST", "/consult", Auth::None, Body::Form(&fields))
            }) else {
                break;
            };
            match (answer.status, reference_on(&answer.body)) {
                (200, Some(reference)) => {
                    stats.acknowledged += 1;
                    stats.latencies.push(sent.elapsed());
                    let mut ledger = shared.ledger.lock().unwrap();
                    ledger
                        .consultations
                        .push(("form", marker.clone(), reference, email.clone()));
                }
                (422, _) if answer.body.contains("form_token") => {
                    stats.shown_again += 1;
                    continue;
                }
                (status, _) => stats.unexpected(format!("POST /consult answered {status}")),
            }
            break;
        }
        pause(&shared, began, beat);
    }
    BTreeMap::from([("form", stats)])
}

/// A program posting consultations to the public API.
pub fn api(shared: Arc<Shared>, beat: Duration, seed: u64) -> Kinds {
    let client = Client::new(&shared);
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    while !shared.stopping() {
        let began = Instant::now();
        let marker = shared.marker("api");
        let email = format!("{marker}@example.jp");
        let consultation = json!({
            "name": "佐藤 一郎",
            "email": email,
            "relationship": "self",
            "age_group": "30代",
            "area": "白石区",
            "subject": format!("{marker} {}", SUBJECTS[rng.below(SUBJECTS.len())]),
            "body": BODIES[rng.below(BODIES.len())],
            "consent": true,
        });
        stats.attempted += 1;
        let answer = until_answered(&shared, &mut stats, || {
            client.once(
                "POST",
                "/api/v1/consultations",
                Auth::None,
                Body::Json(&consultation),
            )
        });
        if let Some(answer) = answer {
            let reference = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|v| v["reference"].as_str().map(str::to_string));
            match (answer.status, reference) {
                (201, Some(reference)) => {
                    stats.acknowledged += 1;
                    stats.latencies.push(began.elapsed());
                    let mut ledger = shared.ledger.lock().unwrap();
                    ledger.consultations.push(("api", marker, reference, email));
                }
                (status, _) => stats.unexpected(format!("POST /api/v1/consultations: {status}")),
            }
        }
        pause(&shared, began, beat);
    }
    BTreeMap::from([("api", stats)])
}
