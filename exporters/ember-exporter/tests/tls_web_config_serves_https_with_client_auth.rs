//! `tls_server_config` in `--web.config.file`: HTTPS with certificates made here (rcgen),
//! checked with a real TLS client (rustls) and with curl: TLS 1.2/1.3 limits, the five
//! `client_auth_type`s, basic auth over TLS, and the file re-read per handshake.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

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

/// A leaf certificate signed by `ca`: (cert PEM, key PEM).
fn leaf(ca: &Ca, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![purpose];
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Certificates of one test: a server CA and certificate, a client CA with one client,
/// and a client signed by a CA the server does not know.
struct Pki {
    dir: PathBuf,
    server_ca: String,
    good_client: (String, String),
    stranger: (String, String),
}

fn pki(name: &str) -> Pki {
    let dir = std::env::temp_dir().join(format!("ember-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server_ca = ca("server ca");
    let (cert, key) = leaf(
        &server_ca,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    std::fs::write(dir.join("server.crt"), cert).unwrap();
    std::fs::write(dir.join("server.key"), key).unwrap();
    let client_ca = ca("client ca");
    std::fs::write(dir.join("client-ca.crt"), client_ca.cert.pem()).unwrap();
    let other_ca = ca("other ca");
    Pki {
        dir,
        server_ca: server_ca.cert.pem(),
        good_client: leaf(
            &client_ca,
            &["scraper"],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
        stranger: leaf(
            &other_ca,
            &["stranger"],
            ExtendedKeyUsagePurpose::ClientAuth,
        ),
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Pki {
    /// Writes `web.yml` (server cert and key relative to it, plus `extra` lines under
    /// `tls_server_config`, plus `tail` at the top level) and returns the flag.
    fn web_config(&self, extra: &str, tail: &str) -> String {
        let path = self.dir.join("web.yml");
        let text = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}{tail}"
        );
        let tmp = self.dir.join("web.yml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        format!("--web.config.file={}", path.display())
    }

    fn client(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        identity: Option<&(String, String)>,
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(self.server_ca.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots);
        Arc::new(match identity {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => builder
                .with_client_auth_cert(
                    CertificateDer::pem_slice_iter(cert.as_bytes())
                        .map(Result::unwrap)
                        .collect(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
        })
    }
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
const ONLY_12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
const ONLY_13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// What a request over TLS got: status, negotiated version and body; `Err` when the
/// handshake or the exchange failed.
#[derive(Debug)]
struct Answer {
    status: u16,
    version: rustls::ProtocolVersion,
    body: String,
}

fn get(addr: &str, config: Arc<ClientConfig>, auth: Option<&str>) -> Result<Answer, String> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let mut request =
        String::from("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(a) = auth {
        request.push_str(&format!("Authorization: {a}\r\n"));
    }
    request.push_str("\r\n");
    tls.write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    // A peer that closes without close_notify ends with UnexpectedEof after the data.
    let read = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let Some(status) = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| s.parse().ok())
    else {
        return Err(format!("no HTTP response: {read:?}"));
    };
    let version = tls.conn.protocol_version().ok_or("no version")?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok(Answer {
        status,
        version,
        body,
    })
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn start(flag: &str) -> String {
    common::start_unprobed(vec![Box::new(common::Fixed("a"))], &[flag])
}

#[test]
fn https_with_basic_auth_and_tls_versions() {
    let pki = pki("auth");
    let users = format!(
        "basic_auth_users:\n  alice: '{}'\n",
        bcrypt::hash("s3cret", 4).unwrap()
    );
    let addr = start(&pki.web_config("", &users));

    let r = get(&addr, pki.client(BOTH, None), None).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.version, rustls::ProtocolVersion::TLSv1_3);
    let r = get(
        &addr,
        pki.client(BOTH, None),
        Some(&basic("alice", "wrong")),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    let r = get(
        &addr,
        pki.client(ONLY_12, None),
        Some(&basic("alice", "s3cret")),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.version, rustls::ProtocolVersion::TLSv1_2);
    assert!(r.body.contains("test_a_value 42\n"), "{}", r.body);

    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = ember_e2e::http_get(&addr, "/metrics", &[]);
    assert!(plain.is_err() || plain.unwrap().status != 200);

    // The file is read again per handshake: raise the minimum to TLS 1.3.
    pki.web_config("  min_version: TLS13\n", &users);
    assert!(get(&addr, pki.client(ONLY_12, None), None).is_err());
    let r = get(
        &addr,
        pki.client(BOTH, None),
        Some(&basic("alice", "s3cret")),
    )
    .unwrap();
    assert_eq!(
        (r.status, r.version),
        (200, rustls::ProtocolVersion::TLSv1_3)
    );

    // And cap it at TLS 1.2.
    pki.web_config("  max_version: TLS12\n", &users);
    assert!(get(&addr, pki.client(ONLY_13, None), None).is_err());
    let r = get(&addr, pki.client(BOTH, None), None).unwrap();
    assert_eq!(
        (r.status, r.version),
        (401, rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn client_auth_types_ask_for_and_check_client_certificates() {
    let pki = pki("mtls");
    let ca_line = "  client_ca_file: client-ca.crt\n";
    let addr = start(&pki.web_config(
        &format!("  client_auth_type: RequireAndVerifyClientCert\n{ca_line}"),
        "",
    ));
    let good = Some(&pki.good_client);
    let stranger = Some(&pki.stranger);
    for versions in [ONLY_12, ONLY_13] {
        assert!(get(&addr, pki.client(versions, None), None).is_err());
        assert!(get(&addr, pki.client(versions, stranger), None).is_err());
        assert_eq!(
            get(&addr, pki.client(versions, good), None).unwrap().status,
            200
        );
    }

    pki.web_config(
        &format!("  client_auth_type: VerifyClientCertIfGiven\n{ca_line}"),
        "",
    );
    assert_eq!(
        get(&addr, pki.client(BOTH, None), None).unwrap().status,
        200
    );
    assert!(get(&addr, pki.client(BOTH, stranger), None).is_err());
    assert_eq!(
        get(&addr, pki.client(BOTH, good), None).unwrap().status,
        200
    );

    pki.web_config("  client_auth_type: RequireAnyClientCert\n", "");
    assert!(get(&addr, pki.client(BOTH, None), None).is_err());
    assert_eq!(
        get(&addr, pki.client(BOTH, stranger), None).unwrap().status,
        200
    );

    pki.web_config("  client_auth_type: RequestClientCert\n", "");
    assert_eq!(
        get(&addr, pki.client(BOTH, None), None).unwrap().status,
        200
    );
    assert_eq!(
        get(&addr, pki.client(BOTH, stranger), None).unwrap().status,
        200
    );

    pki.web_config("  client_auth_type: NoClientCert\n", "");
    assert_eq!(
        get(&addr, pki.client(BOTH, None), None).unwrap().status,
        200
    );

    // A broken file refuses handshakes until it is fixed.
    pki.web_config("  client_auth_type: Nonsense\n", "");
    assert!(get(&addr, pki.client(BOTH, None), None).is_err());
    pki.web_config("", "");
    assert_eq!(
        get(&addr, pki.client(BOTH, None), None).unwrap().status,
        200
    );
}

fn curl(args: &[&str]) -> String {
    ember_e2e::require_binary("curl", "curl");
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{ssl_verify_result}",
        ])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_scrapes_over_tls_with_basic_auth_and_a_client_certificate() {
    let pki = pki("curl");
    let users = format!(
        "basic_auth_users:\n  bob: '{}'\n",
        bcrypt::hash("pw", 4).unwrap()
    );
    let addr = start(&pki.web_config(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n",
        &users,
    ));
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}/metrics");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let write = |name: &str, text: &str| -> PathBuf {
        let p = pki.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ca = write("server-ca.crt", &pki.server_ca);
    let cert = write("client.crt", &pki.good_client.0);
    let key = write("client.key", &pki.good_client.1);
    let s = |p: &Path| p.display().to_string();
    let base = ["--resolve", &resolve, "--cacert", &s(&ca)].map(str::to_owned);
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.iter().map(String::as_str).collect();
        v.extend_from_slice(extra);
        v.push(&url);
        curl(&v)
    };
    let (c, k) = (s(&cert), s(&key));
    assert_eq!(with(&["--cert", &c, "--key", &k, "-u", "bob:pw"]), "200 0");
    assert_eq!(
        with(&["--cert", &c, "--key", &k, "-u", "bob:nope"]),
        "401 0"
    );
    assert_eq!(
        with(&[
            "--cert",
            &c,
            "--key",
            &k,
            "-u",
            "bob:pw",
            "--tlsv1.2",
            "--tls-max",
            "1.2"
        ]),
        "200 0"
    );
    // No client certificate: the handshake fails, no HTTP status.
    assert!(with(&["-u", "bob:pw"]).starts_with("000"));
}
