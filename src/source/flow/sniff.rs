//! Finding flow exports: which UDP datagrams in a capture are NetFlow or
//! IPFIX messages, and how a file of raw export messages splits into them.

use std::net::IpAddr;

use crate::source::netflow::be16;

/// UDP ports flow collectors usually listen on. Datagrams to these ports
/// (and to any port the user names with `--flow-port`) need only a
/// plausible version number to be read as exports; on any other port the
/// whole header must check out.
pub const COLLECTOR_PORTS: [u16; 4] = [2055, 4739, 9995, 9996];

/// One export datagram found in a capture, its bytes in an arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportRef {
    pub exporter: IpAddr,
    pub exporter_port: u16,
    pub frame: u64,
    /// Where the packet record starts in the capture, for messages.
    pub offset: u64,
    /// The datagram's bytes are in the input itself (always, with the
    /// in-place decoder), else in the capture output's arena.
    pub in_input: bool,
    /// Where they start there.
    pub start: usize,
    pub len: usize,
}

impl ExportRef {
    /// The datagram: in `input` (the capture's bytes) or in `arena`.
    pub fn bytes<'a>(&self, input: &'a [u8], arena: &'a [u8]) -> &'a [u8] {
        let from = if self.in_input { input } else { arena };
        &from[self.start..self.start + self.len]
    }
}

/// Is `p` plausibly a NetFlow v5/v9 or IPFIX message? On a collector port
/// the version alone decides; elsewhere the header must be consistent.
pub fn looks_like_export(p: &[u8], on_collector_port: bool) -> bool {
    let Some(version) = be16(p, 0) else {
        return false;
    };
    if on_collector_port {
        return matches!(version, 5 | 7 | 9 | 10) && p.len() >= 16;
    }
    match version {
        5 => {
            let count = usize::from(be16(p, 2).unwrap_or(0));
            (1..=30).contains(&count) && p.len() == 24 + 48 * count
        }
        9 => {
            let (Some(count), Some(id), Some(len)) = (be16(p, 2), be16(p, 20), be16(p, 22)) else {
                return false;
            };
            count >= 1 && (id <= 1 || id >= 256) && len >= 4 && usize::from(len) <= p.len() - 20
        }
        10 => {
            let (Some(total), Some(id), Some(len)) = (be16(p, 2), be16(p, 16), be16(p, 18)) else {
                return false;
            };
            usize::from(total) == p.len()
                && (id == 2 || id == 3 || id >= 256)
                && len >= 4
                && usize::from(len) <= p.len() - 16
        }
        _ => false,
    }
}

/// How a file of export messages splits into messages.
#[derive(Debug, PartialEq, Eq)]
pub struct Split {
    /// (offset, length) of each whole message.
    pub messages: Vec<(usize, usize)>,
    /// Where framing stopped before the end of the file, and why.
    pub cut: Option<(usize, String)>,
}

/// Splits a file of raw export messages into messages: IPFIX messages
/// back to back (RFC 5655), NetFlow v5 datagrams back to back, or one v9
/// datagram (v9 has no length field: the file is one message). `None` when
/// the file does not start with a NetFlow v5/v9 or IPFIX version number.
pub fn split_messages(data: &[u8]) -> Option<Split> {
    let version = be16(data, 0)?;
    if version == 9 {
        return looks_like_export(data, false).then(|| Split {
            messages: vec![(0, data.len())],
            cut: None,
        });
    }
    if version != 5 && version != 10 {
        return None;
    }
    let mut messages = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let why = match (be16(data, at), be16(data, at + 2)) {
            (Some(v), _) if v != version => {
                format!("version {v} where a version {version} message should start")
            }
            (_, None) => "message header cut short".to_string(),
            (_, Some(n)) => {
                let len = if version == 10 {
                    usize::from(n)
                } else {
                    24 + 48 * usize::from(n)
                };
                if (version == 10 && len < 16) || (version == 5 && !(1..=30).contains(&n)) {
                    if version == 5 {
                        format!("NetFlow v5 header claims {n} records (1 to 30 fit a datagram)")
                    } else {
                        format!("IPFIX message length {n} is shorter than its header")
                    }
                } else if at + len > data.len() {
                    format!(
                        "message of {len} bytes runs past the end of the file ({} bytes left)",
                        data.len() - at
                    )
                } else {
                    messages.push((at, len));
                    at += len;
                    continue;
                }
            }
        };
        return Some(Split {
            messages,
            cut: Some((at, why)),
        });
    }
    Some(Split {
        messages,
        cut: None,
    })
}
