//! Encoding packets into the Engine.IO frames that carry them.

use bytes::Bytes;
use bytestring::ByteString;

use super::error::EncodeError;
use super::packet::{Packet, PacketType};
use crate::engineio::{Frame, PacketType as EioType};

/// An encoded packet: the Engine.IO text frame and the binary attachments after it.
///
/// The frame already carries the Engine.IO message prefix `4`, so it goes on a WebSocket
/// or into a polling payload as it is. Clones share memory: encode a broadcast once and
/// queue the same frames to every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    frame: ByteString,
    attachments: Vec<Bytes>,
}

impl Encoded {
    /// The Engine.IO text frame: `4` followed by the Socket.IO packet text.
    pub fn frame(&self) -> &ByteString {
        &self.frame
    }

    /// The Socket.IO packet text alone (shares the frame's memory).
    pub fn text(&self) -> ByteString {
        self.frame.slice_ref(&self.frame[1..])
    }

    /// The binary attachments, each sent as one binary Engine.IO message after the text.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Every Engine.IO frame of the packet, in the order they must be sent.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + Clone + '_ {
        std::iter::once(Frame::Text(self.frame.clone()))
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }
}

impl Packet {
    /// Encodes the packet, allocating once for the text frame.
    pub fn encode(&self) -> Result<Encoded, EncodeError> {
        let nsp = self.nsp();
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(EncodeError::InvalidNamespace(nsp.to_string()));
        }
        let kind = self.packet_type();
        let (data, attachments): (Option<&str>, &[Bytes]) = match self {
            Packet::Connect { data, .. } => {
                let data = data.as_ref().map(|d| d.as_str());
                check_kind(data, kind, b"{")?;
                (data, &[])
            }
            Packet::Disconnect { .. } => (None, &[]),
            Packet::Event { event, .. } => (Some(event.data().json()), event.data().attachments()),
            Packet::Ack { args, .. } => (Some(args.json()), args.attachments()),
            Packet::ConnectError { data, .. } => {
                check_kind(Some(data.as_str()), kind, b"{\"")?;
                (Some(data.as_str()), &[])
            }
        };
        let mut count = itoa::Buffer::new();
        let count = if kind.is_binary() {
            count.format(attachments.len())
        } else {
            ""
        };
        let mut id = itoa::Buffer::new();
        let id = self.ack_id().map_or("", |ack_id| id.format(ack_id));
        let nsp_len = if nsp == "/" { 0 } else { nsp.len() + 1 };
        let data = data.unwrap_or("");
        let len =
            2 + count.len() + usize::from(!count.is_empty()) + nsp_len + id.len() + data.len();

        let mut text = String::with_capacity(len);
        text.push(char::from(EioType::Message.digit()));
        text.push(char::from(kind.digit()));
        if !count.is_empty() {
            text.push_str(count);
            text.push('-');
        }
        if nsp_len > 0 {
            text.push_str(nsp);
            text.push(',');
        }
        text.push_str(id);
        text.push_str(data);
        debug_assert_eq!(text.len(), len);
        Ok(Encoded {
            frame: ByteString::from(text),
            attachments: attachments.to_vec(),
        })
    }
}

/// Checks the first character of a payload a peer would otherwise refuse.
fn check_kind(data: Option<&str>, kind: PacketType, allowed: &[u8]) -> Result<(), EncodeError> {
    match data.map(|d| d.trim_start().as_bytes().first()) {
        None => Ok(()),
        Some(Some(first)) if allowed.contains(first) => Ok(()),
        Some(_) => Err(EncodeError::InvalidPayload(kind)),
    }
}
