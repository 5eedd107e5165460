//! Traits the derives implement: a set of AVPs (message body or Grouped data) and a message.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

use super::avp::{AvpFlags, AvpRef, RawAvp};
use super::error::{rc, DecodeError};
use super::header::{CommandFlags, Header, HEADER_LEN};
use super::types::{AvpValue, DiameterIdentity, Utf8String};

/// Default upper bound on a message's length when decoding: 1 MiB.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 20;

/// A typed set of AVPs following a grammar: a message body or the data of a Grouped AVP.
pub trait AvpSet: Sized {
    /// The value decoding starts from: required fields hold placeholders, the rest are empty.
    fn placeholder() -> Self;

    /// Decodes the AVPs in `buf[start..end]` into `self`, which must be
    /// [`AvpSet::placeholder`]; values share `buf`'s memory.
    fn decode_avps_into(
        &mut self,
        buf: &Bytes,
        start: usize,
        end: usize,
    ) -> Result<(), DecodeError>;

    /// Decodes the AVPs of `body` (whole AVPs back to back), checking the grammar.
    #[inline]
    fn decode_avps(body: &Bytes) -> Result<Self, DecodeError> {
        Self::decode_avps_in(body, 0, body.len())
    }

    /// Decodes the AVPs in `buf[start..end]`; values share `buf`'s memory.
    #[inline]
    fn decode_avps_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, DecodeError> {
        let mut out = Self::placeholder();
        out.decode_avps_into(buf, start, end)?;
        Ok(out)
    }

    /// Writes the AVPs in grammar order at the start of `out` and returns the rest of `out`;
    /// `None` when `out` is shorter than [`AvpSet::encoded_len`] (what was written is then
    /// incomplete).
    fn write_avps<'a>(&self, out: &'a mut [u8]) -> Option<&'a mut [u8]>;

    /// Appends the AVPs in grammar order: written in the thread's scratch buffer and copied
    /// when they fit there, else counted with [`AvpSet::encoded_len`] and written into that
    /// much room.
    #[inline]
    fn encode_avps(&self, out: &mut BytesMut) {
        let write = |buf: &mut [u8]| {
            let room = buf.len();
            self.write_avps(buf).map(|rest| room - rest.len())
        };
        append_written(
            out,
            || self.encoded_len(),
            write,
            std::any::type_name::<Self>(),
        );
    }

    /// Makes `self` equal to [`AvpSet::placeholder`] again, keeping the capacity of its
    /// repeated fields, so that decoding into it again allocates less.
    #[inline]
    fn reset(&mut self) {
        *self = Self::placeholder();
    }

    /// The number of bytes [`AvpSet::write_avps`] writes, padding included (derived types add
    /// up their fields).
    fn encoded_len(&self) -> usize;

    /// The name of the first required AVP still unset ([`AvpValue::is_unset`]: empty text,
    /// identity or octets, an enumerated 0 the dictionary does not name), looking into
    /// Grouped values too. A sender refuses such a message instead of putting it on the wire.
    fn first_unset(&self) -> Option<&'static str> {
        None
    }
}

/// A Grouped AVP's typed data. Implemented by `#[derive(Grouped)]`, which also implements
/// [`AvpValue`] for it.
pub trait Grouped: AvpSet {}

/// A typed command: a request, an answer, or the generic answer-message.
pub trait Message: AvpSet {
    /// The command name from the dictionary, e.g. `Credit-Control-Request`.
    const NAME: &'static str;
    /// The command code; 0 for the answer-message, which answers any command.
    const COMMAND_CODE: u32;
    /// The application the command belongs to.
    const APPLICATION_ID: u32;
    /// Flags every instance carries: `R` for requests, `P` when proxiable, `E` for the
    /// answer-message.
    const FLAGS: CommandFlags;

    /// Fills the identity fields the sender owns that are still empty: Session-Id,
    /// Origin-Host, Origin-Realm, Destination-Realm and the application-id AVP (when 0).
    /// Derived messages fill every such required field; the default fills nothing.
    fn fill(&mut self, _fill: &Fill<'_>) {}

    /// The header this message gets when encoded with [`Message::encode`].
    fn header(&self, hop_by_hop: u32, end_to_end: u32) -> Header {
        Header::new(
            Self::FLAGS,
            Self::COMMAND_CODE,
            Self::APPLICATION_ID,
            hop_by_hop,
            end_to_end,
        )
    }

    /// Encodes the message with the given identifiers.
    fn encode(&self, hop_by_hop: u32, end_to_end: u32) -> Bytes {
        let header = self.header(hop_by_hop, end_to_end);
        // Copied out of the scratch buffer into exactly its size, or counted first when larger:
        // the `Bytes` then needs no second allocation.
        let write = |buf: &mut [u8]| write_message(self, &header, buf);
        if let Some(b) = with_scratch(write, Bytes::copy_from_slice) {
            debug_assert_eq!(b.len(), HEADER_LEN + self.encoded_len(), "{}", Self::NAME);
            return b;
        }
        let mut out = vec![0; HEADER_LEN + self.encoded_len()];
        let len = write_counted(&mut out, write, Self::NAME);
        out.truncate(len);
        Bytes::from(out)
    }

    /// Appends the message under `header` (its `length` is computed), e.g. to answer with the
    /// identifiers of a request or to set `T` on a retransmission.
    fn encode_with_header(&self, header: &Header, out: &mut BytesMut) {
        append_written(
            out,
            || HEADER_LEN + self.encoded_len(),
            |buf| write_message(self, header, buf),
            Self::NAME,
        );
    }

    /// Decodes one whole message, checking the header against this command.
    ///
    /// A different command code or `R` bit gives 3001 (DIAMETER_COMMAND_UNSUPPORTED); see
    /// [`Header::parse`] for the header checks.
    #[inline]
    fn decode(buf: Bytes) -> Result<(Header, Self), DecodeError> {
        Self::decode_from(&buf)
    }

    /// [`Message::decode`] from a borrowed buffer: values that share its memory take their
    /// own reference to it, so a message of short values decodes without touching the
    /// buffer's reference count.
    #[inline]
    fn decode_from(buf: &Bytes) -> Result<(Header, Self), DecodeError> {
        let mut m = Self::placeholder();
        let header = decode_message_into(&mut m, buf)?;
        Ok((header, m))
    }

    /// [`Message::decode_from`] into an existing value, as a loop that receives many messages
    /// of one command does: `self` is [`AvpSet::reset`] first, so its repeated fields keep
    /// their capacity, and the value is not moved. The verdict is the same as
    /// [`Message::decode_from`]'s; after an error `self` holds what was decoded before it
    /// (nothing, for a header error).
    #[inline]
    fn decode_in_place(&mut self, buf: &Bytes) -> Result<Header, DecodeError> {
        self.reset();
        decode_message_into(self, buf)
    }

    /// Decodes a message body whose header has already been parsed.
    #[inline]
    fn decode_body(header: &Header, body: &Bytes) -> Result<Self, DecodeError> {
        Self::check_header(header)?;
        Self::decode_avps(body).map_err(|e| e.in_context(Self::NAME))
    }

    /// Checks that a header is this command's: 3001 for another code or `R` bit.
    #[inline]
    fn check_header(header: &Header) -> Result<(), DecodeError> {
        let expect_request = Self::FLAGS.is_request();
        if Self::COMMAND_CODE != 0
            && (header.command_code != Self::COMMAND_CODE
                || header.flags.is_request() != expect_request)
        {
            return Err(DecodeError::new(
                rc::COMMAND_UNSUPPORTED,
                format!(
                    "expected {} (command {}), got command {} with flags {:?}",
                    Self::NAME,
                    Self::COMMAND_CODE,
                    header.command_code,
                    header.flags
                ),
            ));
        }
        Ok(())
    }
}

/// Messages up to this size are written once, in a per-thread buffer, and copied out: no
/// counting pass, no zero-filling of the destination.
const SCRATCH_LEN: usize = 8 * 1024;

thread_local! {
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

/// Writes into the thread's scratch buffer with `write` (which returns how many bytes it wrote,
/// or `None` when they do not fit) and gives them to `then`. `None` when they do not fit, or
/// when the buffer is in use (an encode from inside a value's own encoding).
#[inline]
fn with_scratch<R>(
    write: impl FnOnce(&mut [u8]) -> Option<usize>,
    then: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    SCRATCH
        .try_with(|scratch| {
            let mut scratch = scratch.try_borrow_mut().ok()?;
            let len = write(&mut scratch)?;
            Some(then(&scratch[..len]))
        })
        .ok()
        .flatten()
}

/// Appends what `write` writes (it returns how many bytes, or `None` when they do not fit):
/// through the thread's scratch buffer when they fit there, else into `len()` bytes of room,
/// zero-filled first (`len` is the `encoded_len` of `what`).
#[inline]
fn append_written(
    out: &mut BytesMut,
    len: impl Fn() -> usize,
    write: impl Fn(&mut [u8]) -> Option<usize>,
    what: &str,
) {
    let copied = with_scratch(&write, |b| {
        out.extend_from_slice(b);
        b.len()
    });
    match copied {
        Some(n) => debug_assert_eq!(n, len(), "{what}"),
        None => {
            let start = out.len();
            out.resize(start + len(), 0);
            let n = write_counted(&mut out[start..], write, what);
            out.truncate(start + n);
        }
    }
}

/// What `write` writes into `room`, which `encoded_len` of `what` sized: how many bytes.
///
/// # Panics
///
/// When `write` needs more room: `encoded_len` counted too few.
fn write_counted(
    room: &mut [u8],
    write: impl FnOnce(&mut [u8]) -> Option<usize>,
    what: &str,
) -> usize {
    let Some(n) = write(room) else {
        panic!("encoded_len of {what} counted fewer bytes than it writes");
    };
    n
}

/// Writes `m` under `header`, with its length, at the start of `out`: the number of bytes
/// written, or `None` when `out` is too short.
#[inline(always)]
fn write_message<M: Message>(m: &M, header: &Header, out: &mut [u8]) -> Option<usize> {
    let (head, body) = out.split_at_mut_checked(HEADER_LEN)?;
    let room = body.len();
    let rest = m.write_avps(body)?;
    let len = HEADER_LEN + room - rest.len();
    let header = Header {
        length: len as u32,
        ..*header
    };
    head.copy_from_slice(&header.to_bytes());
    Some(len)
}

/// Checks the header of the message in `buf` against `M` and decodes its AVPs into `m`, which
/// holds [`AvpSet::placeholder`]: what [`Message::decode_from`] and
/// [`Message::decode_in_place`] share.
#[inline]
fn decode_message_into<M: Message>(m: &mut M, buf: &Bytes) -> Result<Header, DecodeError> {
    let header = Header::parse(buf)?;
    M::check_header(&header)?;
    match m.decode_avps_into(buf, HEADER_LEN, buf.len()) {
        Ok(()) => Ok(header),
        Err(e) => Err(e.in_context(M::NAME)),
    }
}

/// Decodes the value of a matched AVP into `slot` (a placeholder), attaching the AVP and its
/// name to any error.
#[inline(always)]
pub fn decode_field_into<T: AvpValue>(
    slot: &mut T,
    buf: &Bytes,
    avp: &AvpRef,
    name: &'static str,
) -> Result<(), DecodeError> {
    match T::decode_into(slot, buf, avp.start, avp.end) {
        Ok(()) => Ok(()),
        Err(e) => Err(field_error(e, name, buf, avp)),
    }
}

/// Attaches the AVP and its name to a value's error (out of line: every field's decode
/// inlines the call).
#[cold]
#[inline(never)]
fn field_error(e: DecodeError, name: &'static str, buf: &Bytes, avp: &AvpRef) -> DecodeError {
    e.within(name, &avp.to_raw(buf))
}

/// Writes one AVP holding `value` at the front of `*out` and moves `*out` past it; `None`
/// when it has no room.
#[inline(always)]
pub fn write_field<T: AvpValue>(
    out: &mut &mut [u8],
    code: u32,
    flags: AvpFlags,
    vendor_id: u32,
    value: &T,
) -> Option<()> {
    *out = value.write_avp(std::mem::take(out), code, flags, vendor_id)?;
    Some(())
}

/// Writes a raw AVP at the front of `*out` and moves `*out` past it; `None` when it has no
/// room.
#[inline(always)]
pub fn write_raw(out: &mut &mut [u8], avp: &RawAvp) -> Option<()> {
    *out = avp.write(std::mem::take(out))?;
    Some(())
}

/// The encoded size of one AVP holding `value` under `flags`: header (with Vendor-ID when
/// `V` is set), data and padding.
#[inline(always)]
pub fn field_len<T: AvpValue>(flags: AvpFlags, value: &T) -> usize {
    crate::codec::avp::avp_len(flags, value.value_len())
}

/// 5009: the AVP occurred more often than the grammar allows; it is the Failed-AVP.
#[cold]
pub fn too_many(
    buf: &Bytes,
    avp: &AvpRef,
    name: impl Into<Cow<'static, str>>,
    max: u32,
) -> DecodeError {
    DecodeError::with_avp(
        rc::AVP_OCCURS_TOO_MANY_TIMES,
        avp.to_raw(buf),
        format!("more than {max} allowed"),
    )
    .in_context(name)
}

/// 5005 for a repeated AVP with fewer occurrences than the grammar's minimum.
#[cold]
pub fn too_few(
    code: u32,
    vendor_id: u32,
    name: impl Into<Cow<'static, str>>,
    min_len: usize,
    min: u32,
    got: usize,
) -> DecodeError {
    if got == 0 {
        return DecodeError::missing(code, vendor_id, name, min_len);
    }
    DecodeError::with_avp(
        rc::MISSING_AVP,
        RawAvp::new(code, AvpFlags::NONE, vendor_id, vec![0u8; min_len]),
        format!("at least {min} required, got {got}"),
    )
    .in_context(name)
}

/// 5005: an AVP of a fixed position (`< X >`) found elsewhere, as freeDiameter answers it;
/// it is the Failed-AVP. `place` is `first` or `last`.
#[cold]
pub fn misplaced(
    buf: &Bytes,
    avp: &AvpRef,
    name: impl Into<Cow<'static, str>>,
    place: &str,
) -> DecodeError {
    DecodeError::with_avp(
        rc::MISSING_AVP,
        avp.to_raw(buf),
        format!("must be the {place} AVP"),
    )
    .in_context(name)
}

/// 5008: an AVP the grammar forbids (a rule with max 0).
#[cold]
pub fn not_allowed(buf: &Bytes, avp: &AvpRef, name: impl Into<Cow<'static, str>>) -> DecodeError {
    DecodeError::with_avp(
        rc::AVP_NOT_ALLOWED,
        avp.to_raw(buf),
        "AVP must not be present",
    )
    .in_context(name)
}

/// 5001: an AVP with the `M` bit that the grammar does not know and has no `*[ AVP ]` for.
#[cold]
pub fn unsupported(buf: &Bytes, avp: &AvpRef) -> DecodeError {
    DecodeError::with_avp(
        rc::AVP_UNSUPPORTED,
        avp.to_raw(buf),
        format!(
            "AVP {}{} with the M bit is not in the grammar",
            avp.code,
            if avp.vendor_id != 0 {
                format!(" (vendor {})", avp.vendor_id)
            } else {
                String::new()
            }
        ),
    )
}

/// Which identity field [`Message::fill`] is filling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillKind {
    /// Session-Id: a fresh one.
    SessionId,
    /// Origin-Host: the sender's.
    OriginHost,
    /// Origin-Realm: the sender's.
    OriginRealm,
    /// Destination-Realm: from the route.
    DestinationRealm,
    /// Auth-Application-Id or Acct-Application-Id: the command's application.
    ApplicationId,
}

/// What a sender puts into the empty identity fields of a message ([`Message::fill`]).
pub struct Fill<'a> {
    /// Origin-Host.
    pub origin_host: &'a DiameterIdentity,
    /// Origin-Realm.
    pub origin_realm: &'a DiameterIdentity,
    /// Destination-Realm, asked for only when the field is empty.
    pub destination_realm: &'a dyn Fn() -> Option<DiameterIdentity>,
    /// A fresh Session-Id, asked for only when the field is empty.
    pub session_id: &'a dyn Fn() -> Utf8String,
    /// The application-id AVP's value.
    pub application_id: u32,
}

impl Fill<'_> {
    fn text(&self, kind: FillKind) -> Option<std::borrow::Cow<'_, str>> {
        match kind {
            FillKind::SessionId => Some((self.session_id)().as_str().to_owned().into()),
            FillKind::OriginHost => Some(self.origin_host.as_str().into()),
            FillKind::OriginRealm => Some(self.origin_realm.as_str().into()),
            FillKind::DestinationRealm => {
                (self.destination_realm)().map(|r| r.as_str().to_owned().into())
            }
            FillKind::ApplicationId => None,
        }
    }
}

/// A field type [`Message::fill`] can fill: text and identities when empty, the
/// application id when 0. Only required fields are filled (an absent optional one is the
/// sender's choice), so `Option` has no impl.
pub trait Fillable {
    /// Fills `self` from `fill` if it is empty.
    fn fill_with(&mut self, kind: FillKind, fill: &Fill<'_>);
}

macro_rules! fillable_text {
    ($($t:ty),*) => {$(
        impl Fillable for $t {
            fn fill_with(&mut self, kind: FillKind, fill: &Fill<'_>) {
                if self.as_str().is_empty() {
                    if let Some(t) = fill.text(kind) {
                        *self = <$t>::from(&*t);
                    }
                }
            }
        }
    )*};
}

fillable_text!(Utf8String, DiameterIdentity);

impl Fillable for Bytes {
    fn fill_with(&mut self, kind: FillKind, fill: &Fill<'_>) {
        if self.is_empty() {
            if let Some(t) = fill.text(kind) {
                *self = Bytes::copy_from_slice(t.as_bytes());
            }
        }
    }
}

impl Fillable for u32 {
    fn fill_with(&mut self, kind: FillKind, fill: &Fill<'_>) {
        if kind == FillKind::ApplicationId && *self == 0 {
            *self = fill.application_id;
        }
    }
}
