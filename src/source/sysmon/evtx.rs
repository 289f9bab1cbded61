//! EVTX files, read with the `evtx` crate and judged like every other form.
//!
//! The crate renders each record as the same event XML that Event Viewer
//! exports, so records go through `xml.rs` and are judged exactly like an
//! XML export of the same log. A chunk or record the crate cannot read is a
//! warning naming the chunk (and its file offset) or the record, and the
//! other chunks are still read.
//!
//! The crate can parse chunks on the rayon pool, but its consumer then
//! blocks on a channel while the chunks wait in that pool: called from a
//! rayon worker (portent reads inputs in parallel on the global pool), every
//! worker could end up blocked on work queued behind it. So it runs on the
//! calling thread (`num_threads` 1, its inline path); parallelism comes from
//! reading several inputs at once.

use std::io::Cursor;

use ::evtx::err::EvtxError;
use ::evtx::{EvtxParser, ParserSettings};

use super::xml::parse_event;
use super::{At, Reader, SourceError};

/// The EVTX file header's size, and each chunk's: chunk `n` starts at
/// `FILE_HEADER + n * CHUNK` (the format's fixed layout).
const FILE_HEADER: u64 = 4096;
const CHUNK: u64 = 65536;

pub(crate) fn read(r: &mut Reader<'_>, data: &[u8]) -> Result<(), SourceError> {
    let parser =
        EvtxParser::from_read_seek(Cursor::new(data)).map_err(|e| SourceError::BadHeader {
            name: r.name.to_string(),
            offset: 0,
            what: format!("EVTX file header: {}", chain(&e)),
        })?;
    let declared_chunks = u64::from(parser.header().chunk_count);
    if !parser.header().validate_checksum() {
        let (stored, computed) = (parser.header().checksum, parser.header().computed_checksum);
        r.warn(
            "evtx_header_checksum",
            At {
                record: 0,
                offset: 0,
            },
            || {
                format!(
                    "EVTX file header checksum {stored:#010x} does not match its bytes ({computed:#010x}); reading the chunks anyway"
                )
            },
        );
    }
    let mut parser = parser.with_configuration(ParserSettings::new().indent(false));
    // The crate is third-party code on untrusted input: a panic in it ends
    // this file's reading with a warning, not the run.
    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for rec in parser.records() {
            match rec {
                Ok(rec) => {
                    let at = At {
                        record: rec.event_record_id,
                        offset: 0,
                    };
                    match parse_event(rec.data.as_bytes()) {
                        Ok(raw) => r.record(&raw, at),
                        Err(why) => r.bad_record(at, || why),
                    }
                }
                Err(e) => bad(r, &e, data, declared_chunks),
            }
        }
    }));
    if done.is_err() {
        r.log.stats.bad_records += 1;
        r.warn(
            "evtx_panic",
            At {
                record: 0,
                offset: 0,
            },
            || "the evtx parser panicked; events read before it are kept".into(),
        );
    }
    Ok(())
}

/// A chunk or record the crate could not read. A chunk without the chunk
/// magic past the chunks the file header declares is the file's unused
/// space (Windows preallocates logs; the crate looks there because a log
/// not closed cleanly has real chunks past the header's count), and is
/// counted as slack, not warned about.
fn bad(r: &mut Reader<'_>, e: &EvtxError, data: &[u8], declared_chunks: u64) {
    match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => {
            let offset = FILE_HEADER + chunk_id * CHUNK;
            let magic = usize::try_from(offset)
                .ok()
                .and_then(|o| data.get(o..o.checked_add(8)?));
            if *chunk_id >= declared_chunks && magic != Some(&b"ElfChnk\0"[..]) {
                r.log.stats.slack_chunks += 1;
                return;
            }
            r.log.stats.bad_chunks += 1;
            r.warn("bad_chunk", At { record: 0, offset }, || {
                format!("chunk {chunk_id} at offset {offset} not read: {}", chain(e))
            });
        }
        EvtxError::FailedToParseRecord { record_id, .. } => {
            let at = At {
                record: *record_id,
                offset: 0,
            };
            r.bad_record(at, || chain(e));
        }
        EvtxError::FailedToReadRecordAt { chunk, offset, .. } => {
            let file_offset = chunk.map_or(0, |c| FILE_HEADER + c * CHUNK + offset);
            let at = At {
                record: 0,
                offset: file_offset,
            };
            r.bad_record(at, || chain(e));
        }
        _ => r.bad_record(
            At {
                record: 0,
                offset: 0,
            },
            || chain(e),
        ),
    }
}

/// An error with its causes, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
