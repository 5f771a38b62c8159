//! Long-polling payloads: several packets in one HTTP body.
//!
//! Packets are joined by the record separator `\x1e`. A text packet is written as on a
//! WebSocket; a binary message is `b` followed by the standard base64 of its bytes:
//! `4hello\x1e2\x1ebAQIDBA==`.
//!
//! [`PayloadDecoder`] takes a body in chunks as they arrive and refuses it as soon as it
//! grows past `max_payload`, so an oversize POST never sits whole in memory.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::packet::{DecodeError, Frame, Packet};

/// The byte that separates packets in a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// The number of bytes `frame` takes in a polling payload (separator not included).
pub fn encoded_len(frame: &Frame) -> usize {
    match frame {
        Frame::Text(text) => text.len(),
        Frame::Binary(bytes) => 1 + base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX),
    }
}

/// Joins frames into one polling body, in order, with one allocation.
///
/// A text frame must not contain the separator `\x1e` itself, or the receiver splits it
/// in two (JavaScript peers have the same limit). Socket.IO packets never do: JSON writes
/// that character escaped.
pub fn encode_payload<'a, I>(frames: I) -> Bytes
where
    I: IntoIterator<Item = &'a Frame>,
    I::IntoIter: Clone,
{
    let frames = frames.into_iter();
    let total: usize = frames.clone().map(|f| encoded_len(f) + 1).sum();
    let mut body = BytesMut::with_capacity(total.saturating_sub(1));
    for (i, frame) in frames.enumerate() {
        if i > 0 {
            body.put_u8(SEPARATOR);
        }
        match frame {
            Frame::Text(text) => body.put_slice(text.as_bytes()),
            Frame::Binary(bytes) => {
                body.put_u8(b'b');
                let start = body.len();
                let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
                body.resize(start + len, 0);
                let written = STANDARD
                    .encode_slice(bytes, &mut body[start..])
                    .expect("buffer sized by encoded_len");
                debug_assert_eq!(written, len);
            }
        }
    }
    body.freeze()
}

/// Decodes a complete polling body of at most `max_payload` bytes.
pub fn decode_payload(body: Bytes, max_payload: usize) -> Result<Vec<Packet>, DecodeError> {
    let mut decoder = PayloadDecoder::new(max_payload);
    decoder.push_bytes(body)?;
    decoder.finish()
}

/// Accumulates a polling body chunk by chunk, then decodes it.
///
/// ```
/// use halyard_protocol::engineio::{polling::PayloadDecoder, Packet};
/// let mut decoder = PayloadDecoder::new(100);
/// decoder.push(b"4hel").unwrap();
/// decoder.push(b"lo\x1e2").unwrap();
/// assert_eq!(decoder.finish().unwrap(), vec![Packet::Message("hello".into()), Packet::ping()]);
/// ```
#[derive(Debug)]
pub struct PayloadDecoder {
    max_payload: usize,
    body: BytesMut,
    first: Option<Bytes>,
}

impl PayloadDecoder {
    /// A decoder that refuses bodies longer than `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        Self {
            max_payload,
            body: BytesMut::new(),
            first: None,
        }
    }

    /// The number of bytes received so far.
    pub fn len(&self) -> usize {
        self.first.as_ref().map_or(0, Bytes::len) + self.body.len()
    }

    /// Whether nothing has been received yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, more: usize) -> Result<(), DecodeError> {
        if self.len().saturating_add(more) > self.max_payload {
            Err(DecodeError::TooLarge {
                max: self.max_payload,
            })
        } else {
            Ok(())
        }
    }

    /// Appends a chunk; fails as soon as the body exceeds `max_payload`.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        self.check(chunk.len())?;
        self.spill();
        self.body.extend_from_slice(chunk);
        Ok(())
    }

    /// Appends an owned chunk. A body that arrives in one chunk is decoded without a copy.
    pub fn push_bytes(&mut self, chunk: Bytes) -> Result<(), DecodeError> {
        self.check(chunk.len())?;
        if self.is_empty() {
            self.first = Some(chunk);
        } else {
            self.spill();
            self.body.extend_from_slice(&chunk);
        }
        Ok(())
    }

    /// Moves a first owned chunk into the growable buffer once a second chunk arrives.
    fn spill(&mut self) {
        if let Some(first) = self.first.take() {
            self.body.extend_from_slice(&first);
        }
    }

    /// Decodes the packets of the whole body, in order.
    pub fn finish(mut self) -> Result<Vec<Packet>, DecodeError> {
        let body = match self.first.take() {
            Some(first) => first,
            None => self.body.freeze(),
        };
        let text = ByteString::try_from(body).map_err(|_| DecodeError::InvalidUtf8)?;
        let bytes = text.as_bytes();
        let mut packets = Vec::with_capacity(1 + memchr::memchr_iter(SEPARATOR, bytes).count());
        let mut start = 0;
        loop {
            let end = memchr::memchr(SEPARATOR, &bytes[start..]).map_or(bytes.len(), |i| start + i);
            // The separator is ASCII, so both ends are char boundaries.
            packets.push(decode_segment(text.slice_ref(&text[start..end]))?);
            if end == bytes.len() {
                return Ok(packets);
            }
            start = end + 1;
        }
    }
}

fn decode_segment(segment: ByteString) -> Result<Packet, DecodeError> {
    match segment.as_bytes().first() {
        Some(b'b') => STANDARD
            .decode(&segment.as_bytes()[1..])
            .map(|bytes| Packet::Binary(Bytes::from(bytes)))
            .map_err(|_| DecodeError::InvalidBase64),
        _ => Packet::decode_text(segment),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(packets: &[Packet]) -> Vec<Frame> {
        packets.iter().map(Packet::encode).collect()
    }

    #[test]
    fn protocol_md_examples() {
        let packets = vec![
            Packet::Message("hello".into()),
            Packet::ping(),
            Packet::Message("world".into()),
        ];
        let body = encode_payload(&frames(&packets));
        assert_eq!(&body[..], b"4hello\x1e2\x1e4world");
        assert_eq!(decode_payload(body, 100).unwrap(), packets);

        let binary = vec![Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))];
        let body = encode_payload(&frames(&binary));
        assert_eq!(&body[..], b"bAQIDBA==");
        assert_eq!(decode_payload(body, 100).unwrap(), binary);
    }

    #[test]
    fn encoded_len_matches_the_encoding() {
        for frame in [
            Frame::Text("4abc".into()),
            Frame::Binary(Bytes::from_static(b"")),
            Frame::Binary(Bytes::from_static(b"12345")),
        ] {
            assert_eq!(encoded_len(&frame), encode_payload([&frame]).len());
        }
    }

    #[test]
    fn oversize_bodies_fail_while_arriving() {
        let mut decoder = PayloadDecoder::new(8);
        decoder.push(b"4abcd").unwrap();
        assert_eq!(decoder.push(b"efgh"), Err(DecodeError::TooLarge { max: 8 }));
        assert_eq!(
            decode_payload(Bytes::from_static(b"4123456789"), 8),
            Err(DecodeError::TooLarge { max: 8 })
        );
        assert_eq!(
            decode_payload(Bytes::from_static(b"41234567"), 8)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn chunks_in_any_split_decode_the_same() {
        let body = b"4hello\x1ebAQIDBA==\x1e3probe";
        let whole = decode_payload(Bytes::from_static(body), 100).unwrap();
        for split in 0..=body.len() {
            let mut decoder = PayloadDecoder::new(100);
            decoder
                .push_bytes(Bytes::copy_from_slice(&body[..split]))
                .unwrap();
            decoder.push(&body[split..]).unwrap();
            assert_eq!(decoder.finish().unwrap(), whole);
        }
    }

    #[test]
    fn malformed_payloads_are_errors() {
        let bad = |b: &'static [u8]| decode_payload(Bytes::from_static(b), 100);
        assert_eq!(bad(b""), Err(DecodeError::Empty));
        assert_eq!(bad(b"4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(bad(b"b!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(bad(b"4\xff"), Err(DecodeError::InvalidUtf8));
        assert_eq!(bad(b"4a\x1e7"), Err(DecodeError::UnknownType('7')));
    }
}
