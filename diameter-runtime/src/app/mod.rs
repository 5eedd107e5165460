//! The application API: handlers and their requests and replies, the Erlang-style callbacks,
//! service errors, and the answer skeleton every answer the node builds starts from. No I/O
//! and no runtime here: generated service traits build on it without the tokio node (the
//! `node` feature), which serves them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::base::{avp, ResultCode};
use crate::codec::avp::AvpReader;
use crate::codec::{
    dynamic, AvpFlags, CommandFlags, DecodeError, DiameterIdentity, Header, Message, RawAvp,
    HEADER_LEN,
};
use crate::peer::{Capabilities, PeerInfo};

mod error;

pub use error::{Error, ErrorKind};

/// A boxed future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What a handler does with a request.
#[derive(Debug)]
pub enum Reply {
    /// Send these bytes (an encoded answer) back.
    Answer(Bytes),
    /// Send nothing.
    Discard,
}

/// Answers requests of the applications the node advertises.
pub trait Handler: Send + Sync + 'static {
    /// Handles one request. A handler that panics is answered 5012 (UNABLE_TO_COMPLY).
    fn handle(&self, request: Request) -> BoxFuture<Reply>;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    fn handle(&self, request: Request) -> BoxFuture<Reply> {
        Box::pin(self(request))
    }
}

/// What [`Callbacks::handle_request`] decides for a request (Erlang diameter's
/// `handle_request` return values).
#[derive(Debug)]
pub enum Action {
    /// Send this encoded answer (see [`Request::answer`]).
    Reply(Bytes),
    /// A protocol error (3xxx): the answer-message grammar with the `E` bit.
    ProtocolError(ResultCode),
    /// An error answer (5xxx …) with an optional Failed-AVP.
    AnswerMessage(ResultCode, Option<RawAvp>),
    /// Forward as a relay: Route-Record added, loops answered 3005.
    Relay,
    /// Forward as a proxy (like a relay; AVPs we do not know pass byte-exact).
    Proxy,
    /// Send nothing.
    Discard,
}

/// The callbacks of Erlang/OTP diameter's `diameter_app`, for applications that want the
/// whole request and answer flow. Every method but `handle_request` has a default.
pub trait Callbacks: Send + Sync + 'static {
    /// A peer completed the capabilities exchange.
    fn peer_up(&self, _peer: &PeerInfo) {}
    /// A peer's connection closed.
    fn peer_down(&self, _host: &DiameterIdentity) {}
    /// Picks the peer for an outgoing request among the suitable ones (index into
    /// `candidates`); `None` keeps the configured balancing.
    fn pick_peer(&self, _candidates: &[PeerInfo], _request: &Bytes) -> Option<usize> {
        None
    }
    /// Last look at an outgoing request, identifiers set, before it is sent to `peer`;
    /// `None` discards it (the caller gets an error).
    fn prepare_request(&self, request: Bytes, _peer: &PeerInfo) -> Option<Bytes> {
        Some(request)
    }
    /// The same request sent again, with the T flag, to `peer` after a failover or a
    /// retransmission timeout; `None` discards it (the caller gets an error). By default
    /// the same as [`Callbacks::prepare_request`].
    fn prepare_retransmit(&self, request: Bytes, peer: &PeerInfo) -> Option<Bytes> {
        self.prepare_request(request, peer)
    }
    /// An answer to one of our requests, before the caller gets it.
    fn handle_answer(&self, answer: Bytes, _request: &Bytes) -> Bytes {
        answer
    }
    /// One of our requests failed (timeout, no route, peer down, discarded): what the
    /// caller gets instead. The default passes the error on; an answer may replace it.
    fn handle_error(&self, error: Error, _request: &Bytes) -> Result<Bytes, Error> {
        Err(error)
    }
    /// Every message (requests, answers and the base protocol's own), encoded, just before
    /// it is written to the peer with this Origin-Host (`None` during the capabilities
    /// exchange): for logging, capture or accounting (Erlang diameter's `eval_packet`).
    fn sending(&self, _message: &Bytes, _peer: Option<&DiameterIdentity>) {}
    /// An incoming application request.
    fn handle_request(&self, request: Request) -> BoxFuture<Action>;
}

/// A failed service call: the Result-Code (and Error-Message) to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceError {
    /// The Result-Code; 3xxx codes are sent with the `E` bit.
    pub result_code: u32,
    /// Error-Message, if any.
    pub message: Option<String>,
}

impl ServiceError {
    /// An error answer with this Result-Code.
    pub fn new(result_code: ResultCode) -> Self {
        ServiceError {
            result_code: result_code.0,
            message: None,
        }
    }
    /// With an Error-Message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }
    /// The answer to `request` carrying this error.
    pub fn reply(&self, request: &Request) -> Reply {
        Reply::Answer(
            answer_skeleton(
                &request.header,
                &request.bytes,
                &request.local,
                ResultCode(self.result_code),
                None,
                self.message.as_deref(),
            )
            .encode(),
        )
    }
}

/// What a generated service method returns.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// The 3001 (DIAMETER_COMMAND_UNSUPPORTED) answer, for a command a service does not have.
pub fn unsupported_command(request: &Request) -> Reply {
    ServiceError::new(ResultCode::DIAMETER_COMMAND_UNSUPPORTED).reply(request)
}

/// An incoming request with what is needed to answer it: its header and bytes, the peer it
/// came from and the node's own identity. `Request` (that is, `Request<()>`) is the raw
/// request handlers get; generated services get `Request<T>`, which also holds the decoded
/// message (tonic's shape: [`Request::get_ref`], [`Request::into_inner`], and `Deref` to `T`).
#[derive(Clone, Debug)]
pub struct Request<T = ()> {
    pub(crate) header: Header,
    pub(crate) bytes: Bytes,
    pub(crate) peer: DiameterIdentity,
    pub(crate) local: Arc<Capabilities>,
    message: T,
}

/// An answer type built from its request: generated for every command, so a service starts
/// its answer with `request.answer()` (see [`Request::answer`]).
pub trait FromRequest<R>: Sized {
    /// The answer to `request` from the node `origin_host` / `origin_realm`: Session-Id,
    /// Origin-Host, Origin-Realm, Result-Code 2001 (DIAMETER_SUCCESS), Proxy-Info copied,
    /// and the AVPs that identify the exchange (those both grammars require, and the
    /// application-id AVPs) copied from the request; every other field empty.
    fn from_request(
        request: &R,
        origin_host: &DiameterIdentity,
        origin_realm: &DiameterIdentity,
    ) -> Self;
}

impl<T> Request<T> {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// The whole message as received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
    /// Origin-Host of the peer it came from.
    pub fn peer(&self) -> &DiameterIdentity {
        &self.peer
    }
    /// This node's Origin-Host.
    pub fn origin_host(&self) -> &DiameterIdentity {
        &self.local.origin_host
    }
    /// This node's Origin-Realm.
    pub fn origin_realm(&self) -> &DiameterIdentity {
        &self.local.origin_realm
    }
    /// The decoded message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }
    /// The decoded message, to change.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }
    /// The decoded message, the context dropped.
    pub fn into_inner(self) -> T {
        self.message
    }
    /// The same context with another message.
    pub fn with_message<U>(self, message: U) -> Request<U> {
        Request {
            header: self.header,
            bytes: self.bytes,
            peer: self.peer,
            local: self.local,
            message,
        }
    }
}

impl<T> std::ops::Deref for Request<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.message
    }
}

impl<T: Message> Request<T> {
    /// The answer type `A` started from this request ([`FromRequest`]): Session-Id, this
    /// node's Origin-Host and Origin-Realm, Result-Code 2001, Proxy-Info and the identifying
    /// AVPs filled in. Set what the service decides and return it.
    pub fn answer<A: FromRequest<T>>(&self) -> A {
        A::from_request(
            &self.message,
            &self.local.origin_host,
            &self.local.origin_realm,
        )
    }
}

impl Request {
    #[cfg_attr(not(feature = "node"), allow(dead_code))]
    pub(crate) fn new(
        header: Header,
        bytes: Bytes,
        peer: DiameterIdentity,
        local: Arc<Capabilities>,
    ) -> Request {
        Request {
            header,
            bytes,
            peer,
            local,
            message: (),
        }
    }
    /// Decodes it as the typed `T`, checking its grammar.
    pub fn decode<T: Message>(&self) -> Result<T, DecodeError> {
        T::decode_from(&self.bytes).map(|(_, m)| m)
    }
    /// The dynamic view, every AVP raw.
    pub fn dynamic(&self) -> Result<dynamic::Message, DecodeError> {
        dynamic::Message::decode(self.bytes.clone())
    }
    /// Encodes a typed answer with this request's identifiers (and its `P` flag).
    pub fn reply<T: Message>(&self, answer: &T) -> Reply {
        let mut h = answer.header(self.header.hop_by_hop, self.header.end_to_end);
        h.application_id = self.header.application_id;
        let mut out = BytesMut::with_capacity(256);
        answer.encode_with_header(&h, &mut out);
        Reply::Answer(out.freeze())
    }
    /// An answer with Session-Id, Origin-Host, Origin-Realm and Result-Code, Proxy-Info
    /// copied (as python-diameter's `generate_answer`); add AVPs before encoding it.
    pub fn generate_answer(&self, result_code: ResultCode) -> dynamic::Message {
        answer_skeleton(
            &self.header,
            &self.bytes,
            &self.local,
            result_code,
            None,
            None,
        )
    }
    /// The RFC 6733 error answer for a request that failed to decode: 3xxx with the `E` bit,
    /// 5xxx in a normal answer, Failed-AVP from the error.
    pub fn error_answer(&self, err: &DecodeError) -> Reply {
        Reply::Answer(
            answer_skeleton(
                &self.header,
                &self.bytes,
                &self.local,
                ResultCode(err.result_code()),
                err.failed_avp(),
                Some(err.detail()),
            )
            .encode(),
        )
    }
}

/// Builds an answer: Session-Id (if the request has one), Origin-Host, Origin-Realm,
/// Result-Code, Error-Message, Failed-AVP, Proxy-Info copies. 3xxx codes set the `E` bit.
pub(crate) fn answer_skeleton(
    req: &Header,
    bytes: &Bytes,
    local: &Capabilities,
    result_code: ResultCode,
    failed_avp: Option<&RawAvp>,
    error_message: Option<&str>,
) -> dynamic::Message {
    let m = AvpFlags::MANDATORY;
    let mut header = req.answer();
    if (3000..4000).contains(&result_code.0) {
        header.flags = header.flags.with(CommandFlags::ERROR);
    }
    let mut avps = Vec::new();
    let mut proxy = Vec::new();
    if bytes.len() >= HEADER_LEN {
        for a in AvpReader::within(bytes, HEADER_LEN, bytes.len()).flatten() {
            match a.id() {
                avp::SESSION_ID if avps.is_empty() => {
                    avps.push(dynamic::Avp::from_raw(a.to_raw(bytes)))
                }
                avp::PROXY_INFO => proxy.push(dynamic::Avp::from_raw(a.to_raw(bytes))),
                _ => {}
            }
        }
    }
    avps.push(dynamic::Avp::new(
        avp::ORIGIN_HOST.code,
        m,
        0,
        &local.origin_host,
    ));
    avps.push(dynamic::Avp::new(
        avp::ORIGIN_REALM.code,
        m,
        0,
        &local.origin_realm,
    ));
    avps.push(dynamic::Avp::new(
        avp::RESULT_CODE.code,
        m,
        0,
        &result_code.0,
    ));
    if let Some(msg) = error_message {
        avps.push(dynamic::Avp::new(
            avp::ERROR_MESSAGE.code,
            AvpFlags::NONE,
            0,
            &crate::codec::Utf8String::from(msg),
        ));
    }
    if let Some(f) = failed_avp {
        avps.push(dynamic::Avp::grouped(
            avp::FAILED_AVP.code,
            m,
            0,
            vec![dynamic::Avp::from_raw(f.clone())],
        ));
    }
    avps.extend(proxy);
    dynamic::Message { header, avps }
}
