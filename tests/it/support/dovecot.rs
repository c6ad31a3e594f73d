//! A real Dovecot IMAP server for one test, with a throw-away configuration on a free port;
//! plain, or requiring TLS with a certificate from a CA made for the test.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "soudan";
pub const PASSWORD: &str = "imap-test-password";

pub struct Dovecot {
    /// Plain IMAP on 127.0.0.1: what madoguchi uses on a plain server, and what the test's
    /// own helpers use on a TLS one (Dovecot deems a connection from its own address secure).
    pub port: u16,
    pub tls: Option<TlsPorts>,
    dir: PathBuf,
    child: Option<Child>,
}

/// Where a TLS server listens for madoguchi: an address other than the client's, so that
/// Dovecot's `ssl = required` holds for it. The certificate names [`TLS_HOST`] (and localhost,
/// 127.0.0.1), not [`OTHER_HOST`], which reaches the same server.
pub struct TlsPorts {
    /// Plain, to be upgraded with STARTTLS.
    pub starttls: u16,
    /// TLS from the first byte.
    pub tls: u16,
}

pub const TLS_HOST: &str = "127.0.0.2";
pub const OTHER_HOST: &str = "127.0.0.3";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A certificate authority made for one test; its certificate is in `file` (PEM), for
/// `imap.ca_file`.
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pub file: PathBuf,
}

impl TestCa {
    pub fn new() -> Self {
        let mut params = rcgen::CertificateParams::default();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "madoguchi test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let issuer = rcgen::CertifiedIssuer::self_signed(params, key).expect("a CA certificate");
        let file = std::env::temp_dir().join(format!(
            "madoguchi_ca_{}.pem",
            madoguchi::desk::auth::tokens::new_token()
                .get(..12)
                .unwrap_or("x")
        ));
        std::fs::write(&file, issuer.pem()).unwrap();
        Self { issuer, file }
    }

    /// A server certificate for these names and addresses: (certificate, key), both PEM.
    pub fn server_certificate(&self, names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names.clone()).expect("valid names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0].as_str());
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let key = rcgen::KeyPair::generate().expect("a server key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        (cert.pem(), key.serialize_pem())
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

impl Dovecot {
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A server with `ssl = required`, its certificate signed by `ca` for localhost, 127.0.0.1
    /// and [`TLS_HOST`].
    pub fn start_tls(ca: &TestCa) -> Self {
        Self::start_with(Some(ca))
    }

    fn start_with(ca: Option<&TestCa>) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "madoguchi_dovecot_{}",
            madoguchi::desk::auth::tokens::new_token()
                .get(..12)
                .unwrap_or("x")
        ));
        for sub in ["mail", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            // Mail is kept as the unprivileged user nobody, as Dovecot refuses root.
            std::fs::set_permissions(
                dir.join(sub),
                std::os::unix::fs::PermissionsExt::from_mode(0o777),
            )
            .unwrap();
        }
        let port = free_port();
        let d = dir.display();
        let tls = ca.map(|ca| {
            let (cert, key) = ca.server_certificate(&["localhost", "127.0.0.1", TLS_HOST]);
            std::fs::write(dir.join("server.pem"), cert).unwrap();
            std::fs::write(dir.join("server.key"), key).unwrap();
            // Both held open while choosing, so they differ.
            let held: Vec<std::net::TcpListener> = (0..2)
                .map(|_| std::net::TcpListener::bind((TLS_HOST, 0)).expect("a free port"))
                .collect();
            let port = |i: usize| held[i].local_addr().expect("a bound port").port();
            TlsPorts {
                starttls: port(0),
                tls: port(1),
            }
        });
        let (ssl, listeners) = match &tls {
            None => (
                "ssl = no\ndisable_plaintext_auth = no\n".to_string(),
                " inet_listener imaps {\n  port = 0\n }\n".to_string(),
            ),
            Some(TlsPorts { starttls, tls }) => (
                format!(
                    "ssl = required\nssl_cert = <{d}/server.pem\nssl_key = <{d}/server.key\n\
                     disable_plaintext_auth = yes\n"
                ),
                format!(
                    " inet_listener starttls {{\n  address = {TLS_HOST} {OTHER_HOST}\n  port = {starttls}\n }}\n \
                     inet_listener imaps {{\n  address = {TLS_HOST} {OTHER_HOST}\n  port = {tls}\n  ssl = yes\n }}\n"
                ),
            ),
        };
        let config = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap\nlisten = 127.0.0.1\n{ssl}\
             auth_mechanisms = plain login\nmail_location = maildir:{d}/mail/%u\n\
             passdb {{\n driver = static\n args = password={PASSWORD}\n}}\n\
             userdb {{\n driver = static\n args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n\
             service imap-login {{\n inet_listener imap {{\n  address = 127.0.0.1\n  port = {port}\n }}\n\
             {listeners}}}\n\
             service stats {{\n inet_listener http {{\n  port = 0\n }}\n}}\n"
        );
        std::fs::write(dir.join("dovecot.conf"), config).unwrap();
        let mut server = Self {
            port,
            tls,
            dir,
            child: None,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let _ = std::fs::remove_dir_all(self.dir.join("run"));
        let child = Command::new("dovecot")
            .args(["-F", "-c"])
            .arg(self.dir.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot (Debian package dovecot-imapd) runs");
        self.child = Some(child);
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "dovecot did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server, dropping every connection, and starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Appends a message to INBOX over IMAP, as a mail server delivering would.
    pub fn append(&self, raw: &[u8]) {
        let mut s = Session::login(self.port);
        s.write(&format!("a2 APPEND INBOX {{{}+}}\r\n", raw.len()));
        s.stream.write_all(raw).unwrap();
        s.write("\r\n");
        s.expect_ok("a2");
        s.write("a3 LOGOUT\r\n");
    }

    /// UIDs in INBOX with the \Seen flag.
    pub fn seen_uids(&self) -> Vec<u32> {
        self.search("SEEN")
    }

    /// UIDs in INBOX without the \Seen flag.
    pub fn unseen_uids(&self) -> Vec<u32> {
        self.search("UNSEEN")
    }

    /// What the server logged: sign-ins with their addresses and whether they were under TLS.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    fn search(&self, criteria: &str) -> Vec<u32> {
        let mut s = Session::login(self.port);
        s.write(&format!("a2 EXAMINE INBOX\r\na3 UID SEARCH {criteria}\r\n"));
        let lines = s.expect_ok("a3");
        let mut uids: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("* SEARCH"))
            .flat_map(|l| l.split_whitespace().filter_map(|n| n.parse().ok()))
            .collect();
        uids.sort_unstable();
        uids
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Just enough IMAP for a test to put mail in and look at flags.
struct Session {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Session {
    fn login(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut s = Self {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        let mut greeting = String::new();
        s.reader.read_line(&mut greeting).unwrap();
        s.write(&format!("a1 LOGIN {USER} {PASSWORD}\r\n"));
        s.expect_ok("a1");
        s
    }

    fn write(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    fn expect_ok(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).unwrap();
            assert!(n > 0, "IMAP connection closed");
            if line.starts_with(&format!("{tag} ")) {
                assert!(line.starts_with(&format!("{tag} OK")), "{line}");
                return lines;
            }
            lines.push(line.trim_end().to_string());
        }
    }
}
