//! Reading one capture: recognise the container by its magic number and
//! hand it to the pcap or pcapng reader, which walk it with
//! [`super::walk`].

use super::flow;
use super::walk::{CaptureOutput, CHUNK_BYTES};
use super::{magic_hex, pcap, pcapng, sniff, Format, SourceError};

/// Reads one capture held in memory. `input` is its index in the run, used
/// in the signals' origins; `progress` is told how many bytes were consumed.
pub fn read_capture(
    name: &str,
    data: &[u8],
    input: u32,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CaptureOutput, SourceError> {
    read_capture_chunked(name, data, input, progress, CHUNK_BYTES)
}

/// [`read_capture`] with the UDP ports whose datagrams are flow exports
/// (the usual collector ports and any the user named).
pub fn read_capture_with_ports(
    name: &str,
    data: &[u8],
    input: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CaptureOutput, SourceError> {
    read_capture_inner(name, data, input, flow_ports, progress, CHUNK_BYTES)
}

/// [`read_capture`] with a chosen chunk size (`usize::MAX`: one sequential
/// walk). The result does not depend on it; tests check that it does not.
pub fn read_capture_chunked(
    name: &str,
    data: &[u8],
    input: u32,
    progress: &(dyn Fn(u64) + Sync),
    chunk_bytes: usize,
) -> Result<CaptureOutput, SourceError> {
    read_capture_inner(
        name,
        data,
        input,
        &flow::COLLECTOR_PORTS,
        progress,
        chunk_bytes,
    )
}

fn read_capture_inner(
    name: &str,
    data: &[u8],
    input: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
    chunk_bytes: usize,
) -> Result<CaptureOutput, SourceError> {
    let format = sniff(data).ok_or_else(|| SourceError::NotACapture {
        name: name.to_string(),
        magic: magic_hex(data),
    })?;
    let mut out = match format {
        Format::Pcap => pcap::read(name, data, input, flow_ports, progress, chunk_bytes)?,
        Format::Pcapng => pcapng::read(data, input, flow_ports, progress, chunk_bytes),
    };
    out.format = Some(format);
    Ok(out)
}
