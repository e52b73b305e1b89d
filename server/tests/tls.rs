//! HTTPS: the server speaks TLS when given a certificate; the client accepts it only when it
//! chains to a trusted CA and is in date, and refuses plain http off loopback. The server
//! refuses to serve plain HTTP off loopback.
#![allow(clippy::unwrap_used, missing_docs)]

use fieldnote_client::{Client, Error, TlsOptions, check_url};
use fieldnote_server::Config;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn pki(expired: bool) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &ca_cert, &ca_key).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn serve(
    pki: &Pki,
    dir: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> fieldnote_server::Running {
    std::fs::write(dir.join("cert.pem"), &pki.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &pki.key_pem).unwrap();
    let config = Config {
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..Config::loopback(dir.to_path_buf())
    };
    let db = rt.block_on(fieldnote_server::open_db(&config)).unwrap();
    rt.block_on(fieldnote_server::start_with(&config, db))
        .unwrap()
}

fn sign_in(url: &str, tls: &TlsOptions) -> Result<(), Error> {
    let dir = tempfile::tempdir().unwrap();
    let mut store =
        fieldnote_core::Store::open(dir.path(), fieldnote_core::StoreKey::generate()).unwrap();
    let client = Client::connect(url, tls)?;
    client
        .login(url, &mut store, "nobody", "wrong password", None, "phone")
        .map(|_| ())
}

#[test]
fn client_trusts_only_valid_certificates() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = pki(false);
    let server = serve(&good, dir.path(), &rt);
    assert!(server.tls);
    let url = format!("https://localhost:{}", server.addr.port());
    let trusted = TlsOptions {
        ca_pem: Some(good.ca_pem.clone().into_bytes()),
    };
    // Trusted: the TLS handshake succeeds and the server answers (wrong password).
    assert!(matches!(
        sign_in(&url, &trusted),
        Err(Error::Unauthenticated(_))
    ));
    // Not trusted (public roots only): refused before any data is sent.
    assert!(matches!(
        sign_in(&url, &TlsOptions::default()),
        Err(Error::Network(_))
    ));
    // Trusting another CA: refused.
    let other = pki(false);
    let wrong_ca = TlsOptions {
        ca_pem: Some(other.ca_pem.into_bytes()),
    };
    assert!(matches!(sign_in(&url, &wrong_ca), Err(Error::Network(_))));
    // Plain http to the TLS port fails too.
    let plain = format!("http://127.0.0.1:{}", server.addr.port());
    assert!(sign_in(&plain, &trusted).is_err());

    // An expired certificate from a trusted CA: refused.
    let dir2 = tempfile::tempdir().unwrap();
    let old = pki(true);
    let expired = serve(&old, dir2.path(), &rt);
    let url = format!("https://localhost:{}", expired.addr.port());
    let trusted_old = TlsOptions {
        ca_pem: Some(old.ca_pem.into_bytes()),
    };
    match sign_in(&url, &trusted_old) {
        Err(Error::Network(m)) => assert!(m.to_lowercase().contains("expired"), "{m}"),
        other => panic!("expired certificate accepted: {other:?}"),
    }
}

#[test]
fn plain_http_only_on_loopback() {
    assert!(check_url("http://127.0.0.1:7878").is_ok());
    assert!(check_url("http://localhost:7878").is_ok());
    assert!(check_url("http://[::1]:7878").is_ok());
    assert!(check_url("https://fieldnote.example.org").is_ok());
    for bad in [
        "http://10.0.0.5:7878",
        "http://fieldnote.example.org",
        "http://127.0.0.1.example.org",
    ] {
        assert!(
            matches!(check_url(bad), Err(Error::InsecureUrl { .. })),
            "{bad}"
        );
    }
    assert!(matches!(check_url("ftp://x"), Err(Error::BadUrl(_))));

    // The server will not serve plain HTTP off loopback.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..Config::loopback(dir.path().to_path_buf())
    };
    let db = rt.block_on(fieldnote_server::open_db(&config)).unwrap();
    let err = rt
        .block_on(fieldnote_server::start_with(&config, db))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("plain HTTP"), "{err}");
}
