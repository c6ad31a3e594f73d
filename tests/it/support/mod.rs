//! Test harness: a fresh database per test on SQLite or PostgreSQL, the real server on a free
//! port, a hand-set clock, and a real SMTP server over TCP.

pub mod browser;
pub mod dovecot;
pub mod process;
mod shared;
pub mod smtp_server;

pub use shared::{Backend, TestDb, base64};

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::web;
use chrono::{SubsecRound, Utc};
use madoguchi::Application;
use madoguchi::config::{LogLevel, Settings, SqliteSynchronous};
use madoguchi::db::PooledConn;
use madoguchi::state::AppState;
use madoguchi::timesource::{FakeTime, TimeSource};
use serde_json::Value;

/// Writes each test twice, once per backend: `both_backends!(name_a, name_b);` turns
/// `fn name_a(backend: Backend)` into `sqlite::name_a` and `postgres::name_a`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::support::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::support::Backend::Postgres) } )*
        }
    };
}

/// Settings for a test: port 0, the given database, mail written to a throw-away folder.
pub fn test_settings(db: &TestDb) -> Settings {
    let mut s = Settings::defaults().expect("built-in settings");
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.database.url = db.url.clone();
    s.database.pool_size = 4;
    s.database.sqlite_synchronous = SqliteSynchronous::Normal;
    s.smtp.file_dir = std::env::temp_dir()
        .join(format!(
            "madoguchi_mail_{}",
            madoguchi::random::hex_string::<8>()
        ))
        .display()
        .to_string();
    s.log.level = LogLevel::Warn;
    s
}

pub struct TestApp {
    pub address: String,
    pub time: Arc<FakeTime>,
    pub state: web::Data<AppState>,
    pub http: ureq::Agent,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    // Dropped last: the server must be gone before its database is.
    _db: Arc<TestDb>,
}

pub fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {})
}

pub fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let db = Arc::new(TestDb::new(backend));
    let mut settings = test_settings(&db);
    adjust(&mut settings);
    spawn_on(db, settings)
}

/// Another server on the same database (several instances).
pub fn spawn_on(db: Arc<TestDb>, settings: Settings) -> TestApp {
    let time = Arc::new(FakeTime::new(Utc::now().trunc_subsecs(6)));
    let app = Application::build_with_time(settings, time.clone()).expect("application starts");
    let port = app.port();
    let handle = app.handle();
    let state = app.state();
    let thread =
        std::thread::spawn(move || actix_web::rt::System::new().block_on(app.run_until_stopped()));
    let http: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        // actix-web closes a keep-alive connection idle for 5 s: one idle longer is not
        // reused, or a request sent as the server closes it fails ("Peer disconnected").
        .max_idle_age(Duration::from_secs(2))
        .build()
        .into();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        time,
        state,
        http,
        handle,
        thread: Some(thread),
        _db: db,
    }
}

/// A response read whole, so tests can look at status, headers and body together.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn read(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut resp = resp.expect("the request reached the server");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Reply {
        status: resp.status().as_u16(),
        content_type,
        body: resp.body_mut().read_to_string().expect("a readable body"),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> Reply {
        read(self.http.get(self.url(path)).call())
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        read(self.http.post(self.url(path)).send_json(body))
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Reply {
        read(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .send(body),
        )
    }

    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        read(
            self.http
                .post(self.url(path))
                .send_form(fields.iter().copied()),
        )
    }

    /// The signed token of a freshly served consultation form, read from the page.
    pub fn form_token(&self) -> String {
        let page = self.get("/consult");
        assert_eq!(page.status, 200, "{}", page.body);
        hidden_value(&page.body, "form_token")
            .unwrap_or_else(|| panic!("the form carries no token: {}", page.body))
    }

    /// Posts the consultation form as a person does: the form is served first, and sent a
    /// few seconds later (on the test's clock) with its hidden fields as they came.
    pub fn post_consult(&self, fields: &[(&str, &str)]) -> Reply {
        let token = self.form_token();
        self.time.advance(chrono::Duration::seconds(3));
        let mut all = fields.to_vec();
        all.push(("form_token", &token));
        all.push(("homepage", ""));
        self.post_form("/consult", &all)
    }

    pub fn conn(&self) -> PooledConn {
        self.state.pool.get().expect("a database connection")
    }

    pub fn db_arc(&self) -> Arc<TestDb> {
        self._db.clone()
    }

    pub fn db_url(&self) -> String {
        self._db.url.clone()
    }

    /// Wakes the mail worker, e.g. after the clock was moved.
    pub fn wake_mail(&self) {
        self.state.waker.wake();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The value of the hidden input `name` in an HTML page.
pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_string())
}

/// A consultation that passes every check.
pub fn consultation(email: &str) -> Value {
    serde_json::json!({
        "name": "山田 花子",
        "email": email,
        "relationship": "family",
        "age_group": "20代",
        "area": "白石区",
        "subject": "息子のことで相談です",
        "body": "息子が3年ほど部屋から出てきません。どう声をかけたらよいでしょうか。",
        "consent": true,
    })
}

/// Polls until `check` holds or `timeout` passes; for effects of background workers.
pub fn eventually<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A staff member made straight in the database, then signed in through the API.
pub struct Staff {
    pub id: i64,
    pub token: String,
}

pub const STAFF_PASSWORD: &str = "a long test password";

impl TestApp {
    pub fn add_staff(&self, email: &str, role: &str) -> i64 {
        let mut conn = self.conn();
        madoguchi::desk::staff::create(
            &mut conn,
            email,
            "テスト 職員",
            role,
            STAFF_PASSWORD,
            self.time.now(),
        )
        .expect("staff account")
        .0
    }

    pub fn login(&self, email: &str, password: &str) -> Reply {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
    }

    pub fn staff(&self, email: &str, role: &str) -> Staff {
        let id = self.add_staff(email, role);
        let r = self.login(email, STAFF_PASSWORD);
        assert_eq!(r.status, 200, "{}", r.body);
        Staff {
            id,
            token: r.json()["token"].as_str().expect("token").to_string(),
        }
    }

    /// A staff reply on `ticket`, taken for sending (202).
    pub fn reply(&self, token: &str, ticket: i64) {
        let r = self.call(
            "POST",
            &format!("/api/v1/tickets/{ticket}/replies"),
            Some(token),
            Some(&serde_json::json!({"body": "お便りありがとうございます。"})),
        );
        assert_eq!(r.status, 202, "{}", r.body);
    }

    /// A ticket as staff read it (`GET /api/v1/tickets/{ticket}`).
    pub fn ticket(&self, token: &str, ticket: i64) -> Value {
        self.call(
            "GET",
            &format!("/api/v1/tickets/{ticket}"),
            Some(token),
            None,
        )
        .json()
    }

    /// A request with a bearer token (or none), any method, optional JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let url = self.url(path);
        let auth = token.map(|t| format!("Bearer {t}"));
        macro_rules! with_auth {
            ($req:expr) => {{
                let req = $req;
                match &auth {
                    Some(a) => req.header("authorization", a),
                    None => req,
                }
            }};
        }
        let result = match (method, body) {
            ("GET", _) => with_auth!(self.http.get(&url)).call(),
            ("POST", Some(b)) => with_auth!(self.http.post(&url)).send_json(b),
            ("POST", None) => with_auth!(self.http.post(&url)).send_empty(),
            ("PATCH", Some(b)) => with_auth!(self.http.patch(&url)).send_json(b),
            ("PATCH", None) => with_auth!(self.http.patch(&url)).send_empty(),
            ("PUT", Some(b)) => with_auth!(self.http.put(&url)).send_json(b),
            ("DELETE", _) => with_auth!(self.http.delete(&url)).call(),
            _ => panic!("unsupported {method}"),
        };
        read(result)
    }

    /// Files a consultation through the public API and returns its ticket id.
    pub fn new_ticket(&self, email: &str) -> i64 {
        let r = self.post_json("/api/v1/consultations", &consultation(email));
        assert_eq!(r.status, 201, "{}", r.body);
        let reference = r.json()["reference"].as_str().unwrap().to_string();
        let mut conn = self.conn();
        madoguchi::db::tickets::by_reference(&mut conn, &reference)
            .unwrap()
            .unwrap()
            .id
            .0
    }
}
