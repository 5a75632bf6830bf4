//! `tls_server_config` through rustls (ring provider), and [`WebConfigFile`]: the
//! `--web.config.file` read again for every request and handshake.
//!
//! exporter-toolkit re-reads the file (and the certificate files) on every TLS handshake
//! and every request. Doing the same here would parse YAML, PEM and keys each time; so
//! [`WebConfigFile`] reads the bytes of the file and of every file it names each time
//! (a few small reads), and only parses and builds again when any byte differs. Keying
//! on the contents rather than on mtime and length keeps upstream's semantics exactly: a
//! same-length rewrite within one mtime tick (bcrypt hashes all have the same length) is
//! still seen.
//!
//! | `client_auth_type` | rustls verifier |
//! |---|---|
//! | `NoClientCert` | no certificate asked for |
//! | `RequestClientCert` | asked for, optional, not verified |
//! | `RequireAnyClientCert` | required, not verified (signature of the handshake still checked) |
//! | `VerifyClientCertIfGiven` | optional; verified against `client_ca_file` when sent |
//! | `RequireAndVerifyClientCert` | required and verified against `client_ca_file` |

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::Error;
use crate::web_config::{ClientAuthType, TlsServerConfig, TlsVersion, WebConfig};

/// A parsed web config with its built rustls configuration.
#[derive(Debug)]
pub struct LoadedWebConfig {
    /// The parsed file.
    pub config: WebConfig,
    /// The rustls server configuration when `tls_server_config` asks for TLS.
    pub tls: Option<Arc<ServerConfig>>,
}

/// The bytes a [`LoadedWebConfig`] was built from.
#[derive(Debug)]
struct Cached {
    text: Vec<u8>,
    files: Vec<(PathBuf, Vec<u8>)>,
    loaded: Arc<LoadedWebConfig>,
}

/// `--web.config.file`, read again on every [`current`](WebConfigFile::current) call and
/// parsed again only when its bytes, or those of a file it names, changed.
///
/// ```
/// use ember_exporter::WebConfigFile;
/// let path = std::env::temp_dir().join(format!("ember-doc-web-{}.yml", std::process::id()));
/// std::fs::write(&path, "basic_auth_users: {}\n").unwrap();
/// let file = WebConfigFile::new(path.clone());
/// let first = file.current().unwrap();
/// assert!(first.tls.is_none());
/// // Unchanged bytes: the same parsed config.
/// assert!(std::sync::Arc::ptr_eq(&first, &file.current().unwrap()));
/// std::fs::write(&path, "basic_auth_users: [\n").unwrap();
/// assert!(file.current().is_err());
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct WebConfigFile {
    path: PathBuf,
    cache: parking_lot::Mutex<Option<Arc<Cached>>>,
}

impl WebConfigFile {
    /// The file at `path`; nothing is read yet.
    pub fn new(path: PathBuf) -> WebConfigFile {
        WebConfigFile {
            path,
            cache: parking_lot::Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file (and the certificate files it names) and returns the parsed
    /// config, reusing the previous one when no byte changed. Blocks on file reads:
    /// call it off the async executor.
    pub fn current(&self) -> Result<Arc<LoadedWebConfig>, Error> {
        let err = |reason: String| Error::WebConfig {
            path: self.path.clone(),
            reason,
        };
        let text = std::fs::read(&self.path).map_err(|e| err(e.to_string()))?;
        let cached = self.cache.lock().clone();
        if let Some(c) = cached {
            let same_files = c
                .files
                .iter()
                .all(|(p, bytes)| std::fs::read(p).is_ok_and(|now| now == *bytes));
            if c.text == text && same_files {
                return Ok(Arc::clone(&c.loaded));
            }
        }
        let s = std::str::from_utf8(&text).map_err(|e| err(e.to_string()))?;
        let config = WebConfig::parse(s, &self.path)?;
        let mut files = Vec::new();
        let tls = match &config.tls_server_config {
            Some(t) => Some(server_config(t, &mut files).map_err(err)?),
            None => None,
        };
        let loaded = Arc::new(LoadedWebConfig { config, tls });
        *self.cache.lock() = Some(Arc::new(Cached {
            text,
            files,
            loaded: Arc::clone(&loaded),
        }));
        Ok(loaded)
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads `path`, remembering its bytes in `files`.
fn read(path: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    files.push((path.to_owned(), bytes.clone()));
    Ok(bytes)
}

/// Builds the rustls server configuration of `t`; every file read goes into `files`.
fn server_config(
    t: &TlsServerConfig,
    files: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<Arc<ServerConfig>, String> {
    let cert_pem = match (&t.cert_file, &t.cert) {
        (Some(p), _) => read(p, files)?,
        (None, Some(inline)) => inline.as_bytes().to_vec(),
        (None, None) => return Err("missing cert_file or cert".into()),
    };
    let key_pem = match (&t.key_file, &t.key) {
        (Some(p), _) => read(p, files)?,
        (None, Some(inline)) => inline.as_bytes().to_vec(),
        (None, None) => return Err("missing key_file or key".into()),
    };
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cert: {e}"))?;
    if certs.is_empty() {
        return Err("cert: no certificate found".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| format!("key: {e}"))?;

    let provider = provider();
    let verifier = client_verifier(t, &provider, files)?;
    let min = t.min_version.unwrap_or(TlsVersion::TLS12);
    let max = t.max_version.unwrap_or(TlsVersion::TLS13);
    let mut versions: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    if min <= TlsVersion::TLS12 && max >= TlsVersion::TLS12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::TLS13 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err(format!("no TLS version between {min:?} and {max:?}"));
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert and key: {e}"))?;
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(false);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn client_verifier(
    t: &TlsServerConfig,
    provider: &Arc<CryptoProvider>,
    files: &mut Vec<(PathBuf, Vec<u8>)>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = || -> Result<Arc<RootCertStore>, String> {
        let Some(path) = &t.client_ca_file else {
            return Err(format!(
                "client_auth_type {:?} needs client_ca_file",
                t.client_auth_type
            ));
        };
        let pem = read(path, files)?;
        let mut store = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("client_ca_file: {e}"))?;
            store
                .add(cert)
                .map_err(|e| format!("client_ca_file: {e}"))?;
        }
        if store.is_empty() {
            return Err("client_ca_file: no certificate found".into());
        }
        Ok(Arc::new(store))
    };
    let webpki = |roots: Arc<RootCertStore>| {
        WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(provider))
    };
    Ok(match t.client_auth_type {
        ClientAuthType::NoClientCert => WebPkiClientVerifier::no_client_auth(),
        ClientAuthType::RequestClientCert => Arc::new(AnyClientCert {
            mandatory: false,
            provider: Arc::clone(provider),
        }),
        ClientAuthType::RequireAnyClientCert => Arc::new(AnyClientCert {
            mandatory: true,
            provider: Arc::clone(provider),
        }),
        ClientAuthType::VerifyClientCertIfGiven => webpki(roots()?)
            .allow_unauthenticated()
            .build()
            .map_err(|e| e.to_string())?,
        ClientAuthType::RequireAndVerifyClientCert => {
            webpki(roots()?).build().map_err(|e| e.to_string())?
        }
    })
}

/// Go's `RequestClientCert` / `RequireAnyClientCert`: any certificate is accepted
/// without chain verification; the handshake signature still proves the client holds
/// its key.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
