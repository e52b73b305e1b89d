//! The request-body harness: one fuzz input as the server receives it on `POST /v1/sync` or
//! `POST /v1/safety`, read the way the server reads it. The transport undoes gzip with the
//! same tower-http layer the server's router uses, under the same limit on what comes out
//! (the 8 MiB that axum's `DefaultBodyLimit` applies); then
//! [`fieldnote_protocol::decode_sync_request`] or [`fieldnote_protocol::decode_safety_request`]
//! reads the CBOR or JSON, as the handlers call them.
//!
//! An input is one flags byte and then the body. Bit 0 of the flags: `Content-Type:
//! application/cbor` (otherwise JSON); bit 1: `Content-Encoding: gzip`; bit 2: the safety
//! route (otherwise sync). Other bits are ignored. `fuzz/fixtures/sync_request/` holds
//! inputs in this form; `protocol/tests/fuzz_fixtures.rs` compiles this file to replay them.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use fieldnote_protocol::safety::SafetyRequest;
use fieldnote_protocol::{
    CBOR, DecodeError, Format, MAX_REQUEST_BYTES, SyncRequest, decode_safety_request,
    decode_sync_request,
};
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full, LengthLimitError, Limited};
use tower_http::decompression::{DecompressionBody, RequestDecompression};
use tower_service::Service;

/// Flag bit: the body is CBOR.
pub const FLAG_CBOR: u8 = 1;
/// Flag bit: the body is gzip-compressed.
pub const FLAG_GZIP: u8 = 2;
/// Flag bit: the body goes to the safety route.
pub const FLAG_SAFETY: u8 = 4;

/// One request: where it goes, how it is encoded, and its body.
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    /// `Content-Type: application/cbor` (otherwise JSON).
    pub cbor: bool,
    /// `Content-Encoding: gzip`.
    pub gzip: bool,
    /// `POST /v1/safety` (otherwise `POST /v1/sync`).
    pub safety: bool,
    /// The body as sent.
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads a fuzz input: the flags byte, then the body. An empty input is an empty JSON
    /// body for the sync route.
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let (flags, body) = data.split_first().map_or((0, data), |(f, b)| (*f, b));
        Input {
            cbor: flags & FLAG_CBOR != 0,
            gzip: flags & FLAG_GZIP != 0,
            safety: flags & FLAG_SAFETY != 0,
            body,
        }
    }

    /// The fuzz input that [`Input::parse`] reads back as this request.
    pub fn to_bytes(self) -> Vec<u8> {
        let flags = u8::from(self.cbor) * FLAG_CBOR
            + u8::from(self.gzip) * FLAG_GZIP
            + u8::from(self.safety) * FLAG_SAFETY;
        let mut out = Vec::with_capacity(self.body.len() + 1);
        out.push(flags);
        out.extend_from_slice(self.body);
        out
    }
}

/// A body the server accepted as a message.
#[derive(Debug)]
pub enum Message {
    /// A sync request.
    Sync(SyncRequest),
    /// A safety batch.
    Safety(SafetyRequest),
}

/// Why the server refused a body.
#[derive(Debug)]
pub enum Refusal {
    /// 413: larger than the limit once decompressed.
    TooLarge,
    /// 400: the transport could not read the body (a damaged gzip stream).
    Unreadable(String),
    /// 400, 422 or 426: the body was read but is not an acceptable message.
    Decode(DecodeError),
    /// 415: an encoding the transport does not undo.
    UnsupportedEncoding,
}

/// Reads one fuzz input as the server reads a request body.
pub fn run(data: &[u8]) -> Result<Message, Refusal> {
    let input = Input::parse(data);
    let body = transport(&input)?;
    let content_type = input.cbor.then_some(CBOR);
    let format = Format::of_content_type(content_type);
    if input.safety {
        decode_safety_request(format, &body)
            .map(Message::Safety)
            .map_err(Refusal::Decode)
    } else {
        decode_sync_request(format, &body)
            .map(Message::Sync)
            .map_err(Refusal::Decode)
    }
}

type Collected = Rc<RefCell<Option<Result<Bytes, Refusal>>>>;

/// The server's handler, reduced to reading its body with axum's limit.
struct Handler(Collected);

impl Service<Request<DecompressionBody<Full<Bytes>>>> for Handler {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>>>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<DecompressionBody<Full<Bytes>>>) -> Self::Future {
        let slot = self.0.clone();
        Box::pin(async move {
            let limited = Limited::new(req.into_body(), MAX_REQUEST_BYTES);
            let read = match limited.collect().await {
                Ok(collected) => Ok(collected.to_bytes()),
                Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(Refusal::TooLarge),
                Err(e) => Err(Refusal::Unreadable(e.to_string())),
            };
            *slot.borrow_mut() = Some(read);
            Ok(Response::new(Empty::new()))
        })
    }
}

/// The body as the handler sees it: after the decompression layer and the body limit.
fn transport(input: &Input<'_>) -> Result<Bytes, Refusal> {
    let mut req = Request::new(Full::new(Bytes::copy_from_slice(input.body)));
    if input.cbor {
        req.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(CBOR));
    }
    if input.gzip {
        req.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let slot = Collected::default();
    let mut service = RequestDecompression::new(Handler(slot.clone()));
    let response = block_on(service.call(req));
    match response {
        Ok(r) if r.status() == http::StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Err(Refusal::UnsupportedEncoding)
        }
        Ok(_) => slot
            .borrow_mut()
            .take()
            .unwrap_or(Err(Refusal::UnsupportedEncoding)),
        Err(never) => match never {},
    }
}

/// Runs a future whose data is all in memory to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
