//! Baseline (b): whole records as JSON, last writer wins, over REST, gzip'd both ways.

use super::*;
use axum::extract::{Query, State};
use axum::routing::{get, post};

/// (version, id, JSON) rows.
type Rows = Vec<(u64, String, String)>;

#[derive(Clone, Default)]
struct Records(Arc<Mutex<(u64, Rows)>>);

#[derive(serde::Deserialize)]
struct Since {
    since: u64,
}

/// Starts the baseline server with `records`; returns its address.
pub async fn start(records: Vec<(String, String)>) -> Result<std::net::SocketAddr, BoxError> {
    let n = records.len() as u64;
    let state = Records(Arc::new(Mutex::new((
        n,
        records
            .into_iter()
            .enumerate()
            .map(|(i, (id, json))| (i as u64 + 1, id, json))
            .collect(),
    ))));
    let app = axum::Router::new()
        .route("/pull", get(pull_handler))
        .route("/push", post(push_handler))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

async fn pull_handler(State(s): State<Records>, Query(q): Query<Since>) -> String {
    let guard = s.0.lock().expect("lock");
    let rows: Vec<String> = guard
        .1
        .iter()
        .filter(|(v, ..)| *v > q.since)
        .map(|(v, id, json)| format!("{{\"id\":\"{id}\",\"version\":{v},\"record\":{json}}}"))
        .collect();
    format!("[{}]", rows.join(","))
}

async fn push_handler(State(s): State<Records>, body: String) -> &'static str {
    let pushed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap_or_default();
    let mut guard = s.0.lock().expect("lock");
    for p in pushed {
        guard.0 += 1;
        let v = guard.0;
        let id = p["id"].as_str().unwrap_or_default().to_string();
        let json = p["record"].to_string();
        // Last writer wins: the whole record is replaced.
        if let Some(row) = guard.1.iter_mut().find(|(_, i, _)| *i == id) {
            *row = (v, id, json);
        } else {
            guard.1.push((v, id, json));
        }
    }
    "ok"
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().build().new_agent()
}

/// Pulls everything newer than `since`; returns how many records came.
pub fn pull(base: &str, since: u64) -> Result<usize, BoxError> {
    Ok(pull_rows(base, since)?.len())
}

/// Pulls everything newer than `since`: rows of id, version and record.
pub fn pull_rows(base: &str, since: u64) -> Result<Vec<serde_json::Value>, BoxError> {
    let body = agent()
        .get(&format!("{base}/pull?since={since}"))
        .call()?
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()?;
    Ok(serde_json::from_str(&body)?)
}

/// Pushes whole records.
pub fn push(base: &str, records: &[(String, String)]) -> Result<(), BoxError> {
    let rows: Vec<String> = records
        .iter()
        .map(|(id, json)| format!("{{\"id\":\"{id}\",\"record\":{json}}}"))
        .collect();
    let body = gzip(format!("[{}]", rows.join(",")).as_bytes());
    agent()
        .post(&format!("{base}/push"))
        .header("content-encoding", "gzip")
        .send(&body[..])?;
    Ok(())
}
