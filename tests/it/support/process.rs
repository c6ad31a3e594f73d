//! A real `madoguchi serve` process, for what only a process shows: its log lines, its
//! memory, its sockets.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::eventually;

pub struct ServeProcess {
    child: Child,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ServeProcess {
    /// Starts `serve` on a free port with the database at `db_url` and the given settings as
    /// environment variables, and waits until it listens.
    pub fn start(db_url: &str, env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_madoguchi"))
            .arg("serve")
            .env("MADOGUCHI_DATABASE__URL", db_url)
            .env("MADOGUCHI_SERVER__BIND", "127.0.0.1:0")
            .env("MADOGUCHI_LOG__LEVEL", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("madoguchi starts");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().unwrap().push(line);
            }
        });
        let mut process = Self {
            child,
            port: 0,
            lines,
        };
        let serving = process
            .wait_for_line(Duration::from_secs(30), |l| {
                l.contains("madoguchi is serving")
            })
            .unwrap_or_else(|| panic!("serve did not start: {:?}", process.lines()));
        let port = serving
            .split("port=")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {serving:?}"));
        process.port = port;
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every line it logged so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn wait_for_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        eventually(timeout, || {
            self.lines.lock().unwrap().iter().find(|l| pred(l)).cloned()
        })
    }

    /// A line of the process's `/proc/PID/status`, in kB (e.g. `VmHWM`, `VmRSS`).
    pub fn status_kb(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in /proc status"))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
