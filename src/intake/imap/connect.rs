//! Opening the IMAP connection: plain, STARTTLS or TLS from the first byte, then LOGIN.
//! Under TLS the server's certificate and host name are always verified, against the system's
//! roots and those of `imap.ca_file`; there is deliberately no switch to accept anything else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::imap_proto::{Capability, Outcome, Response, ResponseCode, Status};
use async_imap::{Client, Session};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

use super::{ImapError, Stream};
use crate::config::{ImapSettings, ImapTls};

/// From the first byte to a signed-in session; a server that stalls (say, plain text sent to a
/// TLS port) is given up on and retried like any other failure.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(30);

/// A plain connection. A server that announces LOGINDISABLED never gets the password.
pub async fn plain(cfg: &ImapSettings) -> Result<Session<TcpStream>, ImapError> {
    within(async {
        let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port)).await?;
        let mut client = Client::new(tcp);
        if greeting(&mut client).await? == Greeting::RefusesPlainLogin {
            return Err(ImapError::PlaintextRefused);
        }
        login(client, cfg).await
    })
    .await
}

/// TLS from the first byte (`tls`), or after STARTTLS on a plain connection (`starttls`).
pub async fn tls(cfg: &ImapSettings) -> Result<Session<TlsStream<TcpStream>>, ImapError> {
    let setup = |e: crate::config::ConfigError| ImapError::Tls(e.to_string());
    let name = cfg.server_name().map_err(setup)?;
    let connector = connector(cfg)?;
    within(async {
        let mut tcp = TcpStream::connect((cfg.host.as_str(), cfg.port)).await?;
        if cfg.tls == ImapTls::Starttls {
            let mut client = Client::new(tcp);
            greeting(&mut client).await?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ImapError::Tls(format!("the server refused STARTTLS: {e}")))?;
            // Anything the server sent after its OK came before TLS: it goes with the
            // client's buffer, unread (no plain-text injection into the TLS session).
            tcp = client.into_inner();
        }
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(handshake_error)?;
        let mut client = Client::new(stream);
        if cfg.tls == ImapTls::Tls {
            greeting(&mut client).await?;
        }
        login(client, cfg).await
    })
    .await
}

async fn within<T>(work: impl Future<Output = Result<T, ImapError>>) -> Result<T, ImapError> {
    tokio::time::timeout(SIGN_IN_TIMEOUT, work)
        .await
        .map_err(|_| ImapError::Timeout)?
}

#[derive(Debug, PartialEq, Eq)]
enum Greeting {
    Ready,
    /// RFC 3501: a client must not send LOGIN when the server announced LOGINDISABLED.
    RefusesPlainLogin,
}

async fn greeting<S: Stream>(client: &mut Client<S>) -> Result<Greeting, ImapError> {
    let lost = || ImapError::Imap(async_imap::error::Error::ConnectionLost);
    let greeting = client.read_response().await?.ok_or_else(lost)?;
    match greeting.parsed() {
        Response::Data {
            status: Status::Bye,
            ..
        } => Err(lost()),
        Response::Data {
            outcome:
                Outcome {
                    code: Some(ResponseCode::Capabilities(caps)),
                    ..
                },
            ..
        } if caps.iter().any(
            |c| matches!(c, Capability::Atom(a) if a.eq_ignore_ascii_case("LOGINDISABLED")),
        ) =>
        {
            Ok(Greeting::RefusesPlainLogin)
        }
        _ => Ok(Greeting::Ready),
    }
}

async fn login<S: Stream>(client: Client<S>, cfg: &ImapSettings) -> Result<Session<S>, ImapError> {
    Ok(client
        .login(&cfg.username, &cfg.password)
        .await
        .map_err(|(e, _)| e)?)
}

/// Trusts the system's roots and those of `imap.ca_file`, nothing else. Built for each
/// connection, so a renewed CA file is taken without a restart.
fn connector(cfg: &ImapSettings) -> Result<TlsConnector, ImapError> {
    let mut roots = RootCertStore::empty();
    // Unreadable system certificates are left out; what remains, or the CA file, may suffice.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let extra = cfg
        .extra_roots()
        .map_err(|e| ImapError::Tls(e.to_string()))?;
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| ImapError::Tls(format!("imap.ca_file: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ImapError::Tls(
            "no trusted roots: install the system's CA certificates or set imap.ca_file".into(),
        ));
    }
    // The provider is named rather than taken from the process default, which panics when
    // the build carries more than one.
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ImapError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A certificate that does not verify is told apart from other failures, in words that name
/// no host or address.
fn handshake_error(e: std::io::Error) -> ImapError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(why)) => ImapError::Certificate(describe(why)),
        Some(other) => ImapError::Tls(other.to_string()),
        None => ImapError::Io(e),
    }
}

fn describe(why: &CertificateError) -> String {
    match why {
        // BadSignature: an issuer of the right name but another key, such as a look-alike CA.
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            "not signed by a trusted root (the system's, or one in imap.ca_file)".into()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "not issued for imap.host".into()
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "not valid yet".into()
        }
        CertificateError::Revoked => "revoked".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_failures_are_told_in_words_without_names() {
        let not_for_us = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("mail.example.org").unwrap(),
            presented: vec!["other.example.org".into()],
        };
        let said = describe(&not_for_us);
        assert_eq!(said, "not issued for imap.host");
        assert!(describe(&CertificateError::UnknownIssuer).contains("imap.ca_file"));
        assert_eq!(
            describe(&CertificateError::BadSignature),
            describe(&CertificateError::UnknownIssuer)
        );
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert!(matches!(handshake_error(io), ImapError::Certificate(_)));
    }
}
