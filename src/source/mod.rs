//! Finding, opening and recognising inputs.
//!
//! Users hand portent files, directories, gzip-compressed captures and `-`
//! for stdin; the format is decided by content, never by file name. Files are
//! memory-mapped so that readers parse in place; only compressed input and
//! stdin are read into memory (bounded by [`MAX_IN_MEMORY_INPUT`]).

pub mod capture;
pub mod conn;
pub mod flow;
pub mod netflow;
pub mod pcap;
pub mod pcapng;
pub mod sysmon;
pub mod walk;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use thiserror::Error;

use crate::stats::Warning;
use flow::Split;
use sysmon::{SysmonFormat, SysmonLog};
use walk::CaptureOutput;

/// The most portent reads into memory for one compressed file or for stdin:
/// beyond this, decompress to a file first (which portent then maps). Sized to
/// leave room on a 24 GiB analysis machine for the attempts and findings.
pub const MAX_IN_MEMORY_INPUT: u64 = 8 << 30;

/// How deep a directory argument is searched for captures. Evidence folders
/// are shallow; the bound protects against symlink loops.
pub const MAX_DIR_DEPTH: usize = 16;

/// An input as the user named it (or as found inside a directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// What reports call it: the path as given, or `-` for stdin.
    pub name: String,
    /// `None` for stdin.
    pub path: Option<PathBuf>,
    /// Found by walking a directory (non-captures there are skipped quietly,
    /// while a file named explicitly must be a capture).
    pub from_dir: bool,
    /// A file inside the zip archive at `path`: its name in the archive.
    pub member: Option<String>,
}

/// Files taken from one zip archive: public datasets ship logs and
/// captures zipped, and an archive with more files than this is not
/// evidence but a bomb.
pub const MAX_ZIP_MEMBERS: usize = 10_000;

/// A zip archive's local-file-header magic.
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// A whole input's bytes: mapped from disk, or owned after decompression.
pub enum Data {
    Mapped(Mmap),
    Owned(Vec<u8>),
    /// What decompressed from a gzip stream that broke part-way; the
    /// capture reader reports the record cut at its end.
    Partial {
        data: Vec<u8>,
        why: String,
    },
}

impl Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Mapped(m) => m,
            Data::Owned(v) => v,
            Data::Partial { data, .. } => data,
        }
    }
}

/// Mappings at least this large are unmapped on a thread of their own
/// ([`Data::release`]).
pub const RELEASE_IN_BACKGROUND: usize = 64 << 20;

impl Data {
    /// Lets go of an input's bytes once nothing refers to them any more.
    /// Unmapping a large capture is page-table work in the kernel (about 7
    /// ms for 512 MiB) that nothing after it waits for, so a large mapping
    /// is unmapped on a thread of its own while the analysis goes on.
    pub fn release(self) {
        if matches!(self, Data::Mapped(_)) && self.len() >= RELEASE_IN_BACKGROUND {
            let unmapped = std::thread::Builder::new()
                .name("unmap".into())
                .spawn(move || drop(self));
            // Without a thread, the mapping went with the failed spawn's
            // closure: unmapped here.
            drop(unmapped);
        }
    }
}

/// The container formats portent recognises by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::Pcapng => "pcapng",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Problems that stop one input from being read at all.
#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{name}: cannot open: {source}")]
    Open { name: String, source: io::Error },
    #[error("{name}: cannot read: {source}")]
    Read { name: String, source: io::Error },
    #[error("{name}: gzip stream broken at decompressed offset {offset}: {source}")]
    Gzip {
        name: String,
        offset: u64,
        source: io::Error,
    },
    #[error("{name}: more than {limit} bytes after decompression; decompress it to a file first")]
    TooLarge { name: String, limit: u64 },
    #[error("{name}: empty input (0 bytes)")]
    Empty { name: String },
    #[error("{name}: offset 0: not a pcap or pcapng capture (first bytes {magic})")]
    NotACapture { name: String, magic: String },
    #[error(
        "{name}: offset 0: not an input portent reads (first bytes {magic}); it reads {KINDS}"
    )]
    Unrecognized { name: String, magic: String },
    #[error("{name}: zip archive: {what}")]
    Archive { name: String, what: String },
    #[error("{name}: offset {offset}: {what}")]
    BadHeader {
        name: String,
        offset: u64,
        what: String,
    },
}

/// Expands the user's arguments into inputs: `-` is stdin, a directory is
/// every regular file below it (sorted, so runs are reproducible).
pub fn expand(args: &[String]) -> (Vec<Input>, Vec<(String, SourceError)>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for a in args {
        if a == "-" {
            inputs.push(Input {
                name: "-".into(),
                path: None,
                from_dir: false,
                member: None,
            });
            continue;
        }
        let p = Path::new(a);
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                let mut found = Vec::new();
                walk_dir(p, 0, &mut found, &mut errors);
                found.sort();
                for path in found {
                    let input = Input {
                        name: path.display().to_string(),
                        path: Some(path),
                        from_dir: true,
                        member: None,
                    };
                    push_or_unzip(input, &mut inputs, &mut errors);
                }
            }
            Ok(_) => push_or_unzip(
                Input {
                    name: a.clone(),
                    path: Some(p.to_path_buf()),
                    from_dir: false,
                    member: None,
                },
                &mut inputs,
                &mut errors,
            ),
            Err(source) => errors.push((
                a.clone(),
                SourceError::Open {
                    name: a.clone(),
                    source,
                },
            )),
        }
    }
    (inputs, errors)
}

/// Adds `input`, or when it is a zip archive, each file in it (in the
/// archive's order) as an input named `ARCHIVE!MEMBER`.
fn push_or_unzip(input: Input, inputs: &mut Vec<Input>, errors: &mut Vec<(String, SourceError)>) {
    let Some(path) = input.path.as_deref() else {
        inputs.push(input);
        return;
    };
    let mut magic = [0u8; 4];
    let is_zip = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == ZIP_MAGIC;
    if !is_zip {
        inputs.push(input);
        return;
    }
    let bad = |what: String| SourceError::Archive {
        name: input.name.clone(),
        what,
    };
    let archive = File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| zip::ZipArchive::new(f).map_err(|e| e.to_string()));
    let archive = match archive {
        Ok(a) => a,
        Err(e) => {
            errors.push((input.name.clone(), bad(e)));
            return;
        }
    };
    if archive.len() > MAX_ZIP_MEMBERS {
        errors.push((
            input.name.clone(),
            bad(format!(
                "{} files, more than {MAX_ZIP_MEMBERS}",
                archive.len()
            )),
        ));
        return;
    }
    for name in archive.file_names().filter(|n| !n.ends_with('/')) {
        inputs.push(Input {
            name: format!("{}!{name}", input.name),
            path: input.path.clone(),
            from_dir: input.from_dir,
            member: Some(name.to_string()),
        });
    }
}

fn walk_dir(
    dir: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    errors: &mut Vec<(String, SourceError)>,
) {
    if depth > MAX_DIR_DEPTH {
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(source) => {
            let name = dir.display().to_string();
            errors.push((name.clone(), SourceError::Open { name, source }));
            return;
        }
    };
    for entry in rd.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => walk_dir(&path, depth + 1, out, errors),
            Ok(m) if m.is_file() => out.push(path),
            _ => {}
        }
    }
}

/// Opens an input: maps a file, decompresses gzip, reads stdin.
pub fn load(input: &Input) -> Result<Data, SourceError> {
    let name = || input.name.clone();
    let raw = match &input.path {
        None => {
            let mut v = Vec::new();
            io::stdin()
                .lock()
                .take(MAX_IN_MEMORY_INPUT + 1)
                .read_to_end(&mut v)
                .map_err(|source| SourceError::Read {
                    name: name(),
                    source,
                })?;
            if v.len() as u64 > MAX_IN_MEMORY_INPUT {
                return Err(SourceError::TooLarge {
                    name: name(),
                    limit: MAX_IN_MEMORY_INPUT,
                });
            }
            Data::Owned(v)
        }
        Some(p) if input.member.is_some() => {
            let member = input.member.as_deref().unwrap_or_default();
            let bad = |what: String| SourceError::Archive { name: name(), what };
            let f = File::open(p).map_err(|source| SourceError::Open {
                name: name(),
                source,
            })?;
            let mut archive = zip::ZipArchive::new(f).map_err(|e| bad(e.to_string()))?;
            let entry = archive.by_name(member).map_err(|e| bad(e.to_string()))?;
            let mut v = Vec::new();
            entry
                .take(MAX_IN_MEMORY_INPUT + 1)
                .read_to_end(&mut v)
                .map_err(|e| bad(e.to_string()))?;
            if v.len() as u64 > MAX_IN_MEMORY_INPUT {
                return Err(SourceError::TooLarge {
                    name: name(),
                    limit: MAX_IN_MEMORY_INPUT,
                });
            }
            Data::Owned(v)
        }
        Some(p) => {
            let f = File::open(p).map_err(|source| SourceError::Open {
                name: name(),
                source,
            })?;
            let len = f
                .metadata()
                .map_err(|source| SourceError::Read {
                    name: name(),
                    source,
                })?
                .len();
            if len == 0 {
                Data::Owned(Vec::new())
            } else {
                // SAFETY: the map is read-only and private to this process;
                // if another process truncates the file while portent runs,
                // reads past the new end fault (SIGBUS), the documented
                // limitation of every mmap-based reader (ripgrep has the same).
                let m = unsafe { Mmap::map(&f) }.map_err(|source| SourceError::Read {
                    name: name(),
                    source,
                })?;
                #[cfg(unix)]
                let _ = m.advise(memmap2::Advice::Sequential);
                Data::Mapped(m)
            }
        }
    };
    if raw.is_empty() {
        return Err(SourceError::Empty { name: name() });
    }
    if raw.starts_with(&[0x1f, 0x8b]) {
        return gunzip(&input.name, &raw);
    }
    Ok(raw)
}

fn gunzip(name: &str, raw: &[u8]) -> Result<Data, SourceError> {
    let mut out = Vec::new();
    let mut dec = flate2::read::MultiGzDecoder::new(raw).take(MAX_IN_MEMORY_INPUT + 1);
    let broken = dec.read_to_end(&mut out).err();
    if out.len() as u64 > MAX_IN_MEMORY_INPUT {
        return Err(SourceError::TooLarge {
            name: name.to_string(),
            limit: MAX_IN_MEMORY_INPUT,
        });
    }
    match broken {
        None => Ok(Data::Owned(out)),
        Some(source) if out.is_empty() => Err(SourceError::Gzip {
            name: name.to_string(),
            offset: 0,
            source,
        }),
        // Keep what decompressed: a cut .gz still holds the packets before
        // the cut.
        Some(source) => Ok(Data::Partial {
            why: format!(
                "gzip stream broken after {} decompressed bytes ({source}); reading what decompressed",
                out.len()
            ),
            data: out,
        }),
    }
}

/// Every kind of input [`open`] recognises, for the error on any other.
pub const KINDS: &str = "pcap and pcapng captures (with NetFlow/IPFIX exports inside or not), \
files of NetFlow v5/v9 or IPFIX export messages, and Sysmon logs (EVTX, event XML, \
JSON lines as shippers and forwarders write them, syslog), each also gzip-compressed";

/// An input read as what it holds, recognised by content.
pub enum Loaded {
    /// A packet capture: its handshake signals, and any flow-export
    /// datagrams in it (which refer to `data`).
    Capture { data: Data, out: Box<CaptureOutput> },
    /// A Sysmon log (EVTX, event XML, JSON lines, syslog).
    Sysmon {
        format: SysmonFormat,
        bytes: u64,
        log: SysmonLog,
    },
    /// A file of flow-export messages (an RFC 5655 IPFIX file, NetFlow
    /// datagrams as a collector saved them): where each message lies.
    FlowFile { data: Data, split: Split },
}

impl Loaded {
    /// The input's format as reports name it.
    pub fn format_name(&self) -> &'static str {
        match self {
            Loaded::Capture { out, .. } => out.format.map_or("capture", Format::name),
            Loaded::Sysmon { format, .. } => format.name(),
            Loaded::FlowFile { .. } => "flow-export",
        }
    }
}

/// What [`open`] gives: the input as read, or why it could not be.
pub struct Opened {
    pub loaded: Result<Loaded, SourceError>,
    /// Where a gzip stream broke: what decompressed before is still read,
    /// whatever it holds.
    pub gzip_broken: Option<Warning>,
}

/// Opens an input and reads it as what it holds: a capture (`input` is its
/// index in the run, `flow_ports` the UDP ports whose datagrams are flow
/// exports, `progress` told the bytes read), else a Sysmon log, else a file
/// of flow-export messages.
pub fn open(
    input: &Input,
    idx: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> Opened {
    let data = match load(input) {
        Ok(d) => d,
        Err(e) => {
            return Opened {
                loaded: Err(e),
                gzip_broken: None,
            }
        }
    };
    let gzip_broken = match &data {
        Data::Partial { data, why } => Some(Warning {
            reason: "gzip_broken",
            offset: data.len() as u64,
            frame: None,
            message: why.clone(),
        }),
        _ => None,
    };
    Opened {
        loaded: read_data(&input.name, data, idx, flow_ports, progress),
        gzip_broken,
    }
}

fn read_data(
    name: &str,
    data: Data,
    idx: u32,
    flow_ports: &[u16],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Loaded, SourceError> {
    match capture::read_capture_with_ports(name, &data, idx, flow_ports, progress) {
        Ok(out) => Ok(Loaded::Capture {
            data,
            out: Box::new(out),
        }),
        Err(SourceError::NotACapture { magic, .. }) => {
            if let Some(format) = sysmon::sniff(&data) {
                let log = sysmon::read(name, &data)?;
                return Ok(Loaded::Sysmon {
                    format,
                    bytes: data.len() as u64,
                    log,
                });
            }
            match flow::split_messages(&data) {
                Some(split) => Ok(Loaded::FlowFile { data, split }),
                None => Err(SourceError::Unrecognized {
                    name: name.to_string(),
                    magic,
                }),
            }
        }
        Err(e) => Err(e),
    }
}

/// Recognises a capture by its magic number.
pub fn sniff(data: &[u8]) -> Option<Format> {
    let magic: [u8; 4] = data.get(..4)?.try_into().ok()?;
    match magic {
        [0xd4, 0xc3, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xc3, 0xd4]
        | [0x4d, 0x3c, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0x3c, 0x4d]
        | [0x34, 0xcd, 0xb2, 0xa1]
        | [0xa1, 0xb2, 0xcd, 0x34] => Some(Format::Pcap),
        [0x0a, 0x0d, 0x0d, 0x0a] => Some(Format::Pcapng),
        _ => None,
    }
}

/// The first bytes of an unrecognised input, for error messages.
pub fn magic_hex(data: &[u8]) -> String {
    data.iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
