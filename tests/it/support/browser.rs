//! A real browser for the tests: Debian's Chromium, headless, driven through chromedriver the
//! way a person uses a page — fields found by the words of their `<label>`, buttons by their
//! words, the page read as it is shown.
//!
//! One chromedriver and one Chromium serve every browser test of the run. They start on first
//! use behind a global lock, and each test holds the lock while it runs, so browser tests take
//! turns while the other tests go on in parallel. A watchdog ends both when the test process
//! does. Chromium that cannot start fails the test with the reason; it is never skipped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Chromium's flags for a quiet, throw-away browser (HOUSE_RULES); the profile is added at start.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--lang=ja",
    // Screenshots show the page at the width asked for, without a scrollbar's share.
    "--hide-scrollbars",
];

/// Tall enough for the first screen of a phone; screenshots grow to the whole page.
const WINDOW_HEIGHT: u32 = 900;

static SHARED: Mutex<Option<Result<Driver, String>>> = Mutex::new(None);

struct Driver {
    rt: tokio::runtime::Runtime,
    client: Client,
}

/// The shared browser, held by one test at a time. Each test gets it with cookies gone, at
/// 1280 px wide, with script on, on a blank page.
pub struct Browser {
    guard: MutexGuard<'static, Option<Result<Driver, String>>>,
    width: u32,
}

/// Takes the shared browser, starting it on first use; waits while another test has it.
pub fn browser() -> Browser {
    let mut guard = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if guard.is_none() {
        *guard = Some(Driver::start());
    }
    if let Some(Err(why)) = guard.as_ref() {
        panic!("the browser tests need Chromium, and it did not start: {why}");
    }
    let b = Browser { guard, width: 1280 };
    b.reset();
    b
}

impl Driver {
    fn start() -> Result<Self, String> {
        for program in ["chromedriver", "chromium"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                return Err(format!(
                    "`{program}` is not installed; scripts/test installs Debian's chromium and \
                     chromium-driver (apt-get install chromium chromium-driver)"
                ));
            }
        }
        let scratch = std::env::temp_dir().join(format!(
            "madoguchi-browser-{}-{}",
            std::process::id(),
            hex(&madoguchi::random::bytes::<4>())
        ));
        let profile = scratch.join("profile");
        std::fs::create_dir_all(&profile).map_err(|e| format!("profile folder: {e}"))?;
        let log_path = scratch.join("chromedriver.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("log file: {e}"))?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(|e| e.to_string())?)
                .stderr(log)
                // Its own process group, with Chromium in it: the watchdog ends them together.
                .process_group(0)
                .spawn()
                .map_err(|e| format!("chromedriver did not start: {e}"))?
        };
        spawn_watchdog(driver.id(), &scratch)?;
        let log_tail = || {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(20).collect();
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "chromedriver did not answer on port {port} within 20 s:\n{}",
                    log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size=1280,{WINDOW_HEIGHT}"));
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .map_err(|e| {
                format!(
                    "Chromium did not start through chromedriver: {e}\n{}",
                    log_tail()
                )
            })?;
        Ok(Self { rt, client })
    }
}

/// Ends chromedriver's process group (Chromium with it) and removes the profile once this test
/// process is gone; a static is never dropped, so nothing else would.
fn spawn_watchdog(driver_pid: u32, scratch: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .args([
            "-c",
            "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
             kill -TERM -\"$2\" 2>/dev/null; sleep 2; kill -KILL -\"$2\" 2>/dev/null; \
             rm -rf -- \"$3\"",
            "madoguchi-browser-watchdog",
            &std::process::id().to_string(),
            &driver_pid.to_string(),
            &scratch.display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| format!("watchdog: {e}"))
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`).
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.0, "params": self.1});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// What the person sees of a form control.
const FIND_BY_LABEL: &str = r#"
const words = arguments[0];
const norm = s => (s || '').replace(/\s+/g, ' ').trim();
const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const all = [...document.querySelectorAll('label')].filter(shown);
const hits = all.filter(l => norm(l.innerText).startsWith(words));
return {
  labels: all.map(l => norm(l.innerText)),
  hits: hits.map(l => ({text: norm(l.innerText), control: l.control})),
};
"#;

const FIND_BUTTON: &str = r#"
const words = arguments[0];
const norm = s => (s || '').replace(/\s+/g, ' ').trim();
const shown = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const all = [...document.querySelectorAll('button, input[type=submit], input[type=button]')]
  .filter(shown)
  .map(b => ({text: norm(b.innerText || b.value), el: b}));
return {
  buttons: all.map(b => b.text),
  exact: all.filter(b => b.text === words).map(b => b.el),
  partial: all.filter(b => b.text.includes(words)).map(b => b.el),
};
"#;

const RUN_AXE: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']})
  .then(r => done({version: axe.version, violations: r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
  }))}))
  .catch(e => done({error: String(e)}));
"#;

impl Browser {
    fn driver(&self) -> &Driver {
        match self.guard.as_ref() {
            Some(Ok(d)) => d,
            _ => unreachable!("browser() checked the driver"),
        }
    }

    fn run<T>(
        &self,
        what: &str,
        f: impl AsyncFnOnce(&Client) -> Result<T, fantoccini::error::CmdError>,
    ) -> T {
        let d = self.driver();
        d.rt.block_on(f(&d.client))
            .unwrap_or_else(|e| panic!("browser: {what}: {e}"))
    }

    fn js(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.run(what, async |c| c.execute(script, args).await)
    }

    fn cdp(&self, cmd: &'static str, params: Value) {
        self.run(cmd, async |c| c.issue_cmd(Cdp(cmd, params)).await);
    }

    fn element(&self, v: &Value) -> Element {
        let id = v
            .get("element-6066-11e4-a52e-4f735466cecf")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("not an element: {v}"));
        Element::from_element_id(
            self.driver().client.clone(),
            ElementRef::from(id.to_string()),
        )
    }

    fn reset(&self) {
        self.cdp(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": false}),
        );
        self.cdp("Network.clearBrowserCookies", json!({}));
        self.goto("about:blank");
        self.run("window size", async |c| {
            c.set_window_size(1280, WINDOW_HEIGHT).await
        });
    }

    /// Turns the page's own script off, as a person who disabled JavaScript has it, until
    /// the next test takes the browser.
    pub fn without_script(&self) {
        self.cdp(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": true}),
        );
    }

    pub fn goto(&self, url: &str) {
        self.run(&format!("open {url}"), async |c| c.goto(url).await);
    }

    /// The path (and query) of the page shown now.
    pub fn path(&self) -> String {
        let url = self.run("current url", async |c| c.current_url().await);
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The page's text as shown (hidden elements left out).
    pub fn text(&self) -> String {
        self.run("page text", async |c| {
            c.find(Locator::Css("body")).await?.text().await
        })
    }

    fn control(&self, label: &str) -> Element {
        let found = self.js("find a label", FIND_BY_LABEL, vec![json!(label)]);
        let hits = found["hits"].as_array().cloned().unwrap_or_default();
        let hit = match hits.as_slice() {
            [one] => one.clone(),
            [] => panic!(
                "no visible label starts with 「{label}」; the labels shown are {}",
                found["labels"]
            ),
            // "件名※必須" is the label 「件名」 to a person.
            many => many
                .iter()
                .find(|h| {
                    h["text"]
                        .as_str()
                        .map(|t| t.trim_end_matches("※必須").trim())
                        == Some(label)
                })
                .cloned()
                .unwrap_or_else(|| {
                    panic!("several labels start with 「{label}」: {}", found["labels"])
                }),
        };
        if hit["control"].is_null() {
            panic!("the label 「{}」 names no control", hit["text"]);
        }
        self.element(&hit["control"])
    }

    /// Types into the field whose label starts with `label`, after what it already holds.
    pub fn type_into(&self, label: &str, text: &str) {
        let field = self.control(label);
        self.run(&format!("type into 「{label}」"), async |_| {
            field.send_keys(text).await
        });
    }

    /// Empties the field whose label starts with `label`, then types `text`.
    pub fn fill(&self, label: &str, text: &str) {
        let field = self.control(label);
        self.run(&format!("fill 「{label}」"), async |_| {
            field.clear().await?;
            field.send_keys(text).await
        });
    }

    /// Clicks the radio button, checkbox or other control whose label starts with `label`.
    pub fn choose(&self, label: &str) {
        let control = self.control(label);
        self.run(&format!("choose 「{label}」"), async |_| {
            control.click().await
        });
    }

    /// Picks the option shown as `option` in the select whose label starts with `label`.
    pub fn select(&self, label: &str, option: &str) {
        let select = self.control(label);
        self.run(
            &format!("select 「{option}」 in 「{label}」"),
            async |_| select.select_by_label(option).await,
        );
    }

    /// What the field whose label starts with `label` shows now.
    pub fn value_of(&self, label: &str) -> String {
        let field = self.control(label);
        self.run(&format!("value of 「{label}」"), async |_| {
            field.prop("value").await
        })
        .unwrap_or_default()
    }

    /// Runs a script in the page and gives back what it returns (for what a person sees but
    /// no helper reads: a colour, a position).
    pub fn js_value(&self, script: &str) -> Value {
        self.js("script", script, vec![])
    }

    /// Moves the focus with the Tab key, as a keyboard user does, until it reaches the control
    /// whose label starts with `label`.
    pub fn press_tab_to(&self, label: &str) {
        let target = self.control(label);
        for _ in 0..50 {
            let there = self.run("active element", async |c| {
                let active = c.active_element().await?;
                if active.element_id() == target.element_id() {
                    return Ok(true);
                }
                active.send_keys("\u{E004}").await?;
                Ok(false)
            });
            if there {
                return;
            }
        }
        panic!("the Tab key never reached 「{label}」");
    }

    /// Whether the checkbox or radio button whose label starts with `label` is ticked.
    pub fn is_checked(&self, label: &str) -> bool {
        let control = self.control(label);
        self.run(&format!("state of 「{label}」"), async |_| {
            control.is_selected().await
        })
    }

    /// Presses the button shown with these words (exactly, or else the only one containing
    /// them) and waits for the page it leads to.
    pub fn press(&self, words: &str) {
        let found = self.js("find a button", FIND_BUTTON, vec![json!(words)]);
        let pick = |key: &str| found[key].as_array().cloned().unwrap_or_default();
        let (exact, partial) = (pick("exact"), pick("partial"));
        let button = match (exact.as_slice(), partial.as_slice()) {
            ([one], _) | ([], [one]) => one.clone(),
            ([], []) => panic!(
                "no button 「{words}」; the buttons shown are {}",
                found["buttons"]
            ),
            _ => panic!("several buttons match 「{words}」: {}", found["buttons"]),
        };
        let button = self.element(&button);
        let left = self.run(&format!("press 「{words}」"), async |c| {
            let page = c.find(Locator::Css("html")).await?;
            button.click().await?;
            // The page pressed on is gone once its root element is stale.
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                match page.tag_name().await {
                    Err(e) if gone(&e) => return Ok(true),
                    Err(e) => return Err(e),
                    Ok(_) => tokio::time::sleep(Duration::from_millis(25)).await,
                }
            }
            Ok(false)
        });
        assert!(left, "pressing 「{words}」 led to no new page within 20 s");
    }

    /// Follows the link shown with exactly these words.
    pub fn follow(&self, words: &str) {
        self.run(&format!("follow 「{words}」"), async |c| {
            c.find(Locator::LinkText(words)).await?.click().await
        });
    }

    /// Sets the width of the window, as a desktop (1280) or a phone (390) shows the page.
    pub fn set_width(&mut self, width: u32) {
        self.width = width;
        self.run("window size", async |c| {
            c.set_window_size(width, WINDOW_HEIGHT).await
        });
    }

    /// The whole page as a PNG at the current width, in `target/screenshots/NAME-WIDTH.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let height = self
            .js(
                "page height",
                "return Math.ceil(document.documentElement.scrollHeight);",
                vec![],
            )
            .as_u64()
            .unwrap_or(u64::from(WINDOW_HEIGHT));
        let height = u32::try_from(height)
            .unwrap_or(10_000)
            .clamp(WINDOW_HEIGHT, 10_000);
        let width = self.width;
        let png = self.run("screenshot", async |c| {
            c.set_window_size(width, height).await?;
            c.execute("window.scrollTo(0, 0);", vec![]).await?;
            let png = c.screenshot().await;
            c.set_window_size(width, WINDOW_HEIGHT).await?;
            png
        });
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("target/screenshots");
        let path = dir.join(format!("{name}-{}.png", self.width));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Runs axe-core in the page; fails with each serious or critical violation spelled out.
    pub fn assert_accessible(&self, what: &str) {
        let axe = axe_source();
        self.js("load axe-core", &format!("{axe}\n;return true;"), vec![]);
        let result = self.run("axe-core", async |c| c.execute_async(RUN_AXE, vec![]).await);
        if let Some(e) = result.get("error") {
            panic!("axe-core failed on {what}: {e}");
        }
        let grave: Vec<&Value> = result["violations"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
                    .collect()
            })
            .unwrap_or_default();
        if !grave.is_empty() {
            let mut report = format!(
                "axe-core {} found {} serious or critical problem(s) on {what} at {} px:\n",
                result["version"].as_str().unwrap_or("?"),
                grave.len(),
                self.width
            );
            for v in grave {
                report += &format!(
                    "\n[{}] {} — {}\n  {}\n",
                    v["impact"].as_str().unwrap_or(""),
                    v["id"].as_str().unwrap_or(""),
                    v["help"].as_str().unwrap_or(""),
                    v["url"].as_str().unwrap_or("")
                );
                for n in v["nodes"].as_array().into_iter().flatten() {
                    report += &format!(
                        "  at {}\n    {}\n",
                        n["target"].as_str().unwrap_or(""),
                        n["summary"].as_str().unwrap_or("").replace('\n', "\n    ")
                    );
                }
            }
            panic!("{report}");
        }
    }
}

/// Chromium's ways of saying that an element belonged to a page no longer shown.
fn gone(e: &fantoccini::error::CmdError) -> bool {
    let text = e.to_string();
    [
        "stale element",
        "does not belong to the document",
        "No node with given id",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// axe-core as scripts/test fetched it (pinned, checked); read once.
fn axe_source() -> &'static str {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vendor/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} cannot be read ({e}); scripts/test fetches axe-core at its pinned version",
                path.display()
            )
        })
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
