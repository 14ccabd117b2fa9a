//! HTTPS with rustls (the `ring` provider), and the self-signed development
//! certificate `gatewayd dev-cert --out DIR` writes.
//!
//! With `http.tls_listen`, `http.tls_cert` and `http.tls_key` set, the same API (the
//! CORE real-time routes included) is served over HTTPS on `tls_listen`, besides plain
//! HTTP on `listen` (keep that one on loopback). The certificate chain and key are PEM
//! files; a development pair comes from `gatewayd dev-cert` (never commit one).

use super::config::TlsSettings;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why HTTPS could not start, or a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The HTTPS address could not be bound.
    #[error("http.tls_listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The certificate or key could not be read or used.
    #[error("http.tls_cert / http.tls_key ({cert}, {key}): {source}")]
    Certificate {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A development certificate could not be generated.
    #[error("dev-cert: {0}")]
    Generate(#[from] rcgen::Error),
    /// A development certificate could not be written.
    #[error("dev-cert {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Starts serving `app` over HTTPS (in the current tokio runtime); the handle stops it.
pub async fn serve(
    t: &TlsSettings,
    app: axum::Router,
) -> Result<axum_server::Handle<SocketAddr>, TlsError> {
    // one provider is compiled in (ring); installing it twice is harmless
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&t.cert, &t.key)
        .await
        .map_err(|source| TlsError::Certificate {
            cert: t.cert.display().to_string(),
            key: t.key.display().to_string(),
            source,
        })?;
    let bind = |source| TlsError::Bind {
        addr: t.listen.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(t.listen).map_err(bind)?;
    listener.set_nonblocking(true).map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let handle = axum_server::Handle::new();
    let server = axum_server::tls_rustls::from_tcp_rustls(listener, config)
        .map_err(bind)?
        .handle(handle.clone());
    tokio::spawn(async move {
        if let Err(e) = server.serve(app.into_make_service()).await {
            tracing::error!(error = %e, "https server");
        }
    });
    tracing::info!(listen = %addr, "gatewayd serving https");
    Ok(handle)
}

/// Writes a self-signed development certificate for `names` (DNS names or IP
/// addresses) to `DIR/cert.pem` and its key to `DIR/key.pem` (mode 0600); returns
/// both paths. For tests and local trials only.
pub fn dev_cert(out: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let key = rcgen::generate_simple_self_signed(names.to_vec())?;
    let write = |path: PathBuf, text: String, private: bool| -> Result<PathBuf, TlsError> {
        let err = |source| TlsError::Write {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(out).map_err(err)?;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let mut f = o.open(&path).map_err(err)?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        Ok(path)
    };
    let cert = write(out.join("cert.pem"), key.cert.pem(), false)?;
    let k = write(out.join("key.pem"), key.signing_key.serialize_pem(), true)?;
    Ok((cert, k))
}
