//! Baseline (c): automerge's sync protocol per document, every document's messages of a
//! round multiplexed into one request (frames of document index, length, message).

use super::*;
use axum::extract::State;
use axum::routing::post;

type Docs = Arc<Mutex<(Vec<AutoCommit>, HashMap<usize, sync::State>)>>;

/// The running baseline server.
pub struct AmServer {
    pub addr: std::net::SocketAddr,
    docs: Docs,
}

impl AmServer {
    /// Replaces plans' documents with newer versions (the supervisor's edits) and starts
    /// new sync states (a reconnect).
    pub fn replace_where(
        &self,
        ids: &[RecordId],
        plans: &[RecordId],
        newer: impl Fn(RecordId) -> Option<Vec<u8>>,
    ) -> Result<(), BoxError> {
        let mut g = self.docs.lock().map_err(|_| "lock")?;
        for (i, id) in ids.iter().enumerate() {
            if plans[..3].contains(id)
                && let Some(bytes) = newer(*id)
            {
                g.0[i].load_incremental(&bytes)?;
            }
        }
        g.1.clear();
        Ok(())
    }
}

pub async fn start(docs: Vec<Vec<u8>>) -> Result<AmServer, BoxError> {
    let docs: Vec<AutoCommit> = docs
        .iter()
        .map(|b| AutoCommit::load(b))
        .collect::<Result<_, _>>()?;
    let state: Docs = Arc::new(Mutex::new((docs, HashMap::new())));
    let app = axum::Router::new()
        .route("/sync", post(handler))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::decompression::RequestDecompressionLayer::new())
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(AmServer { addr, docs: state })
}

pub fn frames(body: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= body.len() {
        let idx = u32::from_be_bytes(body[i..i + 4].try_into().unwrap_or_default()) as usize;
        let len = u32::from_be_bytes(body[i + 4..i + 8].try_into().unwrap_or_default()) as usize;
        out.push((idx, &body[i + 8..i + 8 + len]));
        i += 8 + len;
    }
    out
}

fn frame(out: &mut Vec<u8>, idx: usize, msg: &[u8]) {
    out.extend_from_slice(&(idx as u32).to_be_bytes());
    out.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    out.extend_from_slice(msg);
}

async fn handler(State(s): State<Docs>, body: axum::body::Bytes) -> Vec<u8> {
    let mut g = s.lock().expect("lock");
    let (docs, states) = &mut *g;
    let mut out = Vec::new();
    for (idx, msg) in frames(&body) {
        let state = states.entry(idx).or_default();
        if let Ok(m) = sync::Message::decode(msg) {
            let _ = docs[idx].sync().receive_sync_message(state, m);
        }
    }
    for (idx, doc) in docs.iter_mut().enumerate() {
        let state = states.entry(idx).or_default();
        if let Some(m) = doc.sync().generate_sync_message(state) {
            frame(&mut out, idx, &m.encode());
        }
    }
    out
}

/// The baseline client: one document and sync state per record.
pub struct Client {
    docs: Vec<AutoCommit>,
    states: Vec<sync::State>,
}

impl Client {
    pub fn new(n: usize) -> Client {
        Client {
            docs: (0..n).map(|_| AutoCommit::new()).collect(),
            states: (0..n).map(|_| sync::State::new()).collect(),
        }
    }

    /// Merges a newer local version of document `i` (a local edit).
    pub fn replace(&mut self, i: usize, bytes: &[u8]) -> Result<(), BoxError> {
        self.docs[i].load_incremental(bytes)?;
        Ok(())
    }

    /// Document `i` as it stands, saved.
    pub fn save(&mut self, i: usize) -> Vec<u8> {
        self.docs[i].save()
    }

    /// Runs rounds until neither side has anything to say; returns round trips. New
    /// sync states, as on a new connection.
    pub fn sync(&mut self, url: &str) -> Result<u64, BoxError> {
        for s in self.states.iter_mut() {
            *s = sync::State::new();
        }
        let agent = ureq::Agent::config_builder().build().new_agent();
        let mut trips = 0;
        loop {
            let mut out = Vec::new();
            for (i, doc) in self.docs.iter_mut().enumerate() {
                if let Some(m) = doc.sync().generate_sync_message(&mut self.states[i]) {
                    frame(&mut out, i, &m.encode());
                }
            }
            if out.is_empty() && trips > 0 {
                return Ok(trips);
            }
            trips += 1;
            let resp = agent
                .post(&format!("{url}/sync"))
                .header("content-encoding", "gzip")
                .send(&gzip(&out)[..])?
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_vec()?;
            if resp.is_empty() && out.is_empty() {
                return Ok(trips);
            }
            for (idx, msg) in frames(&resp) {
                let m = sync::Message::decode(msg)?;
                self.docs[idx]
                    .sync()
                    .receive_sync_message(&mut self.states[idx], m)?;
            }
            if trips > 50 {
                return Err("automerge sync did not settle".into());
            }
        }
    }
}
