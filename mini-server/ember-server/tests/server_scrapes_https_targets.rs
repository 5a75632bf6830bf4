//! `scheme: https` targets with `tls_config`: a TLS server started here (rustls, with
//! certificates made by rcgen) scraped by the scrape loop: a private CA via `ca_file`,
//! the system bundle refusing it, `insecure_skip_verify`, and client certificates.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ember_server::{Config, MemoryAppender, ScrapeLoop, targets_from_group};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

struct Ca {
    cert: Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    Ca {
        cert: params.self_signed(&key).unwrap(),
        key,
    }
}

/// A certificate signed by `ca`: (cert PEM, key PEM).
fn leaf(ca: &Ca, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![purpose];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// An HTTPS server answering every request with one metric; with `client_ca`, clients
/// must present a certificate it signed.
fn serve_tls(cert: &str, key: &str, client_ca: Option<&str>) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = Arc::new(builder.with_single_cert(certs, key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = ServerConnection::new(config) else {
                    return;
                };
                let mut tls = StreamOwned::new(conn, stream);
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = "secure_metric 42\n";
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    addr
}

struct Pki {
    dir: PathBuf,
    server_ca: Ca,
    client_ca: Ca,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("ember-https-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki {
            dir,
            server_ca: ca("server ca"),
            client_ca: ca("client ca"),
        };
        std::fs::write(pki.dir.join("ca.crt"), pki.server_ca.cert.pem()).unwrap();
        let (c, k) = leaf(
            &pki.client_ca,
            &["scraper"],
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        std::fs::write(pki.dir.join("client.crt"), c).unwrap();
        std::fs::write(pki.dir.join("client.key"), k).unwrap();
        pki
    }

    fn server(&self, client_auth: bool) -> String {
        let (cert, key) = leaf(
            &self.server_ca,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client_ca = self.client_ca.cert.pem();
        serve_tls(&cert, &key, client_auth.then_some(client_ca.as_str()))
    }

    /// Scrapes `addr` once over https with these `tls_config` lines; returns the error
    /// (None: `up` 1) and the stored value of `secure_metric`.
    fn scrape(&self, addr: &str, tls_lines: &str) -> (Option<String>, Option<f64>) {
        let yaml = format!(
            "scrape_configs:\n- job_name: secure\n  scheme: https\n  scrape_timeout: 5s\n  \
             tls_config:\n{tls_lines}  static_configs:\n  - targets: ['{addr}']\n"
        );
        let cfg = Config::parse(&yaml, &self.dir.join("prometheus.yml")).unwrap();
        let job = &cfg.scrape_configs[0];
        let t = targets_from_group(&job.static_configs[0], job)
            .unwrap()
            .remove(0);
        assert!(t.url().starts_with("https://"), "{}", t.url());
        let mut l = ScrapeLoop::new(t, job, MemoryAppender::default());
        let report = l.scrape_once();
        let value = l
            .appender()
            .committed()
            .iter()
            .find(|s| s.series.get("__name__") == "secure_metric")
            .map(|s| s.value);
        (report.error, value)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_exists(p: &str) -> bool {
    Path::new(p).exists()
}

#[test]
fn https_with_a_private_ca_system_roots_and_skip_verify() {
    let pki = Pki::new("ca");
    let addr = pki.server(false);

    let (error, value) = pki.scrape(&addr, "    ca_file: ca.crt\n");
    assert_eq!((error, value), (None, Some(42.0)));

    let (error, value) = pki.scrape(&addr, "    insecure_skip_verify: true\n");
    assert_eq!((error, value), (None, Some(42.0)));

    // The system bundle does not know the private CA.
    if path_exists(ember_server::SYSTEM_CA_BUNDLE) {
        let (error, value) = pki.scrape(&addr, "    insecure_skip_verify: false\n");
        let error = error.expect("an unknown issuer must fail the scrape");
        assert!(error.to_lowercase().contains("certificate"), "{error}");
        assert_eq!(value, None);
    } else {
        eprintln!(
            "SKIPPED the system-roots case: {} is missing (install ca-certificates)",
            ember_server::SYSTEM_CA_BUNDLE
        );
    }

    let (error, _) = pki.scrape(&addr, "    ca_file: no-such.crt\n");
    assert!(
        error
            .as_deref()
            .unwrap_or("")
            .contains("unable to read CA file"),
        "{error:?}"
    );

    let (error, _) = pki.scrape(
        &addr,
        "    ca_file: ca.crt\n    server_name: other.example\n",
    );
    assert_eq!(
        error.as_deref(),
        Some("tls_config.server_name is not supported by this build")
    );
}

#[test]
fn https_with_a_client_certificate() {
    let pki = Pki::new("client");
    let addr = pki.server(true);
    let (error, value) = pki.scrape(
        &addr,
        "    ca_file: ca.crt\n    cert_file: client.crt\n    key_file: client.key\n",
    );
    assert_eq!((error, value), (None, Some(42.0)));
    // Without one the server refuses the handshake.
    let (error, value) = pki.scrape(&addr, "    ca_file: ca.crt\n");
    assert!(error.is_some());
    assert_eq!(value, None);
}
