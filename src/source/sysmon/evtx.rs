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
                Err(e) => bad(r, &e),
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

/// A chunk or record the crate could not read.
fn bad(r: &mut Reader<'_>, e: &EvtxError) {
    match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => {
            r.log.stats.bad_chunks += 1;
            let offset = FILE_HEADER + chunk_id * CHUNK;
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
