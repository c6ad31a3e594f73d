//! The privacy test's plumbing: a `madoguchi` process run with a config file, every line it
//! writes kept, and plain HTTP requests to it (no cookies kept, no redirects followed).

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::{eventually, hidden_value};

/// The lines a process writes to stdout and stderr, gathered as they come.
#[derive(Clone, Default)]
pub(super) struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    pub(super) fn follow(&self, stream: impl std::io::Read + Send + 'static, tag: &'static str) {
        let sink = self.0.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(format!("{tag}: {line}"));
            }
        });
    }

    pub(super) fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub(super) struct Serve {
    child: Child,
    pub(super) lines: Lines,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn madoguchi(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_madoguchi"));
    c.arg("--config")
        .arg(config)
        // The config file alone decides the level: nothing from the test's environment.
        .env_remove("RUST_LOG")
        .env_remove("MADOGUCHI_LOG__LEVEL")
        .env_remove("MADOGUCHI_DATABASE__URL");
    c
}

pub(super) fn start_serve(config: &Path) -> Serve {
    let mut child = madoguchi(config)
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("madoguchi starts");
    let lines = Lines::default();
    lines.follow(child.stdout.take().unwrap(), "serve stdout");
    lines.follow(child.stderr.take().unwrap(), "serve stderr");
    let serving = eventually(Duration::from_secs(30), || {
        lines
            .all()
            .into_iter()
            .find(|l| l.contains("madoguchi is serving"))
    })
    .unwrap_or_else(|| panic!("serve did not start: {:#?}", lines.all()));
    let port: u16 = serving
        .split("port=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {serving:?}"));
    Serve {
        child,
        lines,
        base: format!("http://127.0.0.1:{port}"),
    }
}

/// Runs a one-shot command with `stdin`; its stdout and stderr as tagged lines.
pub(super) fn run_once(config: &Path, args: &[&str], stdin: &[u8], tag: &str) -> Vec<String> {
    let mut child = madoguchi(config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let mut lines: Vec<String> = Vec::new();
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        for l in String::from_utf8_lossy(bytes).lines() {
            lines.push(format!("{tag} {stream}: {l}"));
        }
    }
    assert!(out.status.success(), "{tag} failed: {lines:#?}");
    lines
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) set_cookie: String,
    pub(super) body: String,
}

pub(super) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub(super) fn send(req: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = req.expect("the server answers");
    let set_cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("\n");
    Answer {
        status: r.status().as_u16(),
        set_cookie,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

impl Serve {
    pub(super) fn lines_matching(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        eventually(timeout, || {
            self.lines.all().iter().any(|l| pred(l)).then_some(())
        })
        .is_some()
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(super) fn get(&self, path: &str, bearer: Option<&str>, cookie: Option<&str>) -> Answer {
        let mut req = agent().get(self.url(path));
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        send(req.call())
    }

    pub(super) fn post_json(&self, path: &str, bearer: Option<&str>, body: &Value) -> Answer {
        let mut req = agent().post(self.url(path));
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        send(req.send_json(body))
    }

    pub(super) fn post_form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Answer {
        let mut req = agent().post(self.url(path));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        send(req.send_form(fields.iter().copied()))
    }

    /// Signs in on the console's page; the session cookie's `name=value`.
    pub(super) fn desk_sign_in(&self, email: &str, password: &str) -> (u16, String) {
        let page = self.get("/desk", None, None);
        let token = hidden_value(&page.body, "login_token").expect("the sign-in form's token");
        let a = self.post_form(
            "/desk/login",
            None,
            &[
                ("email", email),
                ("password", password),
                ("next", "/desk"),
                ("login_token", &token),
            ],
        );
        (
            a.status,
            a.set_cookie.split(';').next().unwrap_or("").to_string(),
        )
    }
}
