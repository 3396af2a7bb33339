//! What goes over a Raft TCP connection: length-prefixed frames, each one
//! postcard-encoded value. The dialer speaks first with a [`Hello`], the
//! listener answers with a [`HelloReply`], and from then on the dialer sends
//! [`Envelope`](crate::transport::Envelope)s only; the listener never writes again.

use crate::raft::NodeId;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio_util::codec::{Encoder, LengthDelimitedCodec};

/// Largest frame accepted or sent, in bytes. An AppendEntries carries about
/// `max_bytes_per_append` (1 MiB by default) and an entry holds at most one
/// request body (1 MiB by default), so 16 MiB leaves ample room while a
/// garbage length prefix cannot make a reader allocate gigabytes.
pub const MAX_FRAME_BYTES: usize = 16 << 20;

/// Bumped whenever the frames change incompatibly; peers must agree.
pub const PROTOCOL_VERSION: u32 = 1;

/// The first frame on every connection: who is dialing, and the proof that
/// it belongs to the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Always [`PROTOCOL_VERSION`] of the dialer.
    pub version: u32,
    /// The dialing node; every envelope on the connection must come from it.
    pub node: NodeId,
    /// The node the dialer means to reach, so a misconfigured address is
    /// caught at once instead of delivering Raft messages to the wrong node.
    pub to: NodeId,
    /// The shared cluster token; empty when the cluster has none.
    pub token: String,
}

/// The listener's answer to a [`Hello`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelloReply {
    /// Envelopes may follow.
    Welcome,
    /// The connection is closed right after this frame; the sentence says why.
    Refused(String),
}

/// The frame codec of both directions, with [`MAX_FRAME_BYTES`] enforced.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Appends `value` as one frame to `buffer`.
pub fn encode_frame<T: Serialize>(value: &T, buffer: &mut BytesMut) -> Result<(), String> {
    let payload = postcard::to_stdvec(value).map_err(|error| format!("cannot encode: {error}"))?;
    codec()
        .encode(Bytes::from(payload), buffer)
        .map_err(|error| format!("cannot frame: {error}"))
}

/// Decodes one frame's payload.
pub fn decode<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(payload).map_err(|error| format!("undecodable frame: {error}"))
}

/// Whether two tokens are equal, in time that does not depend on where they
/// first differ (so a stranger cannot guess the token byte by byte).
pub fn tokens_match(expected: &str, presented: &str) -> bool {
    let (expected, presented) = (expected.as_bytes(), presented.as_bytes());
    if expected.len() != presented.len() {
        return false;
    }
    expected
        .iter()
        .zip(presented)
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio_util::codec::FramedRead;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(tokens_match("", ""));
        assert!(tokens_match("secret", "secret"));
        assert!(!tokens_match("secret", "secreT"));
        assert!(!tokens_match("secret", "secret2"));
        assert!(!tokens_match("secret", ""));
    }

    #[tokio::test]
    async fn a_hello_round_trips_through_a_frame() {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            node: 2,
            to: 1,
            token: "t".into(),
        };
        let mut buffer = BytesMut::new();
        encode_frame(&hello, &mut buffer).unwrap();
        let mut frames = FramedRead::new(&buffer[..], codec());
        let frame = frames.next().await.unwrap().unwrap();
        assert_eq!(decode::<Hello>(&frame), Ok(hello));
    }

    #[tokio::test]
    async fn an_oversized_length_prefix_is_an_error_not_an_allocation() {
        let garbage = b"GET / HTTP/1.1\r\n\r\n";
        let mut frames = FramedRead::new(&garbage[..], codec());
        assert!(frames.next().await.unwrap().is_err());
    }
}
