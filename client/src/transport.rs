//! Carrying one request to the server. [`HttpTransport`] is the real one (HTTPS with
//! rustls, gzip both ways); tests wrap it to drop, duplicate or delay messages.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use fieldnote_protocol::{CBOR, ErrorBody, ErrorCode, PROTOCOL_VERSION, VERSION_HEADER};

use crate::error::{Error, Result};

/// Sends one POST of a CBOR body (or a GET when `body` is `None`) and returns the response
/// body.
pub trait Transport: Send + Sync {
    /// Sends a request to `path` with an optional bearer token.
    fn send(&self, path: &str, bearer: Option<&str>, body: Option<&[u8]>) -> Result<Vec<u8>>;

    /// Opens a long-lived GET (the Server-Sent Events stream) and returns its body as it
    /// arrives. `last_event_id` resumes after the last event seen.
    fn open_stream(
        &self,
        path: &str,
        bearer: &str,
        last_event_id: Option<i64>,
    ) -> Result<Box<dyn std::io::Read + Send>> {
        let _ = (path, bearer, last_event_id);
        Err(Error::Network("this transport cannot stream".into()))
    }
}

/// How to trust the server's certificate.
#[derive(Clone, Debug, Default)]
pub struct TlsOptions {
    /// PEM certificates to trust instead of the public roots (an agency's own CA).
    pub ca_pem: Option<Vec<u8>>,
}

/// The real transport.
pub struct HttpTransport {
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    base: String,
}

/// Largest response body read (the server's batches are far smaller).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Checks a server URL: https anywhere, plain http only on loopback.
pub fn check_url(url: &str) -> Result<String> {
    let url = url.trim_end_matches('/').to_string();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::BadUrl(format!("{url:?} has no scheme")))?;
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if host.is_empty() {
        return Err(Error::BadUrl(format!("{url:?} has no host")));
    }
    match scheme {
        "https" => Ok(url),
        "http" => {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(url)
            } else {
                Err(Error::InsecureUrl { url })
            }
        }
        other => Err(Error::BadUrl(format!("unsupported scheme {other:?}"))),
    }
}

impl HttpTransport {
    /// A transport to `base_url` (checked with [`check_url`]).
    pub fn new(base_url: &str, tls: &TlsOptions) -> Result<HttpTransport> {
        let base = check_url(base_url)?;
        let mut tls_config = ureq::tls::TlsConfig::builder();
        if let Some(pem) = &tls.ca_pem {
            let certs = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::BadUrl(format!("CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(Error::BadUrl("the CA file holds no certificate".into()));
            }
            tls_config = tls_config.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let tls_config = tls_config.build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(120)))
            .tls_config(tls_config.clone())
            .build()
            .new_agent();
        // The event stream stays open for hours; only connecting is bounded.
        let stream_agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .tls_config(tls_config)
            .build()
            .new_agent();
        Ok(HttpTransport {
            agent,
            stream_agent,
            base,
        })
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

impl Transport for HttpTransport {
    fn send(&self, path: &str, bearer: Option<&str>, body: Option<&[u8]>) -> Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let auth = bearer.map(|t| format!("Bearer {t}"));
        let result = match body {
            Some(b) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("content-type", CBOR)
                    .header("accept", CBOR)
                    .header("content-encoding", "gzip")
                    .header(VERSION_HEADER, PROTOCOL_VERSION.to_string());
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.send(&gzip(b)[..])
            }
            None => {
                let mut req = self
                    .agent
                    .get(&url)
                    .header("accept", CBOR)
                    .header(VERSION_HEADER, PROTOCOL_VERSION.to_string());
                if let Some(a) = &auth {
                    req = req.header("authorization", a);
                }
                req.call()
            }
        };
        let mut resp = result.map_err(|e| Error::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|e| Error::Network(e.to_string()))?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(refusal(status, &bytes))
    }

    fn open_stream(
        &self,
        path: &str,
        bearer: &str,
        last_event_id: Option<i64>,
    ) -> Result<Box<dyn std::io::Read + Send>> {
        let mut req = self
            .stream_agent
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream")
            .header("authorization", format!("Bearer {bearer}"));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let mut resp = req.call().map_err(|e| Error::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let bytes = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .unwrap_or_default();
            return Err(refusal(status, &bytes));
        }
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

/// Turns an error response into the error a caller acts on.
pub fn refusal(status: u16, bytes: &[u8]) -> Error {
    let body: Option<ErrorBody> = serde_json::from_slice(bytes).ok();
    let (code, message) = match body {
        Some(b) => (b.code, b.message),
        None => (
            if status >= 500 {
                ErrorCode::Internal
            } else {
                ErrorCode::BadRequest
            },
            String::from_utf8_lossy(bytes).chars().take(200).collect(),
        ),
    };
    match code {
        ErrorCode::DeviceRevoked => Error::DeviceRevoked,
        ErrorCode::UpgradeRequired => Error::UpgradeRequired(message),
        ErrorCode::Unauthenticated => Error::Unauthenticated(message),
        ErrorCode::SecondFactorRequired => Error::SecondFactorRequired(message),
        _ => Error::Refused {
            status,
            code,
            message,
        },
    }
}
