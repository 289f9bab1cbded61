//! The Sysmon join on real pairs (a capture and the host's log of the same
//! run) and the tiers it lifts attempts to (DETECTION.md §5).

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

/// One SYN of an EXPECTED-JOIN table: its tuple, and the initiator's event
/// when the initiating host logged it.
#[derive(Debug, Default)]
struct Expected {
    initiator: Option<BTreeMap<&'static str, String>>,
    rows: usize,
}

fn expected(tsv: &str) -> BTreeMap<(String, u64, String, u64), Expected> {
    let mut out: BTreeMap<_, Expected> = BTreeMap::new();
    for line in tsv.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        let key = (
            c[1].to_string(),
            c[2].parse().unwrap(),
            c[3].to_string(),
            c[4].parse().unwrap(),
        );
        let e = out.entry(key).or_default();
        e.rows += 1;
        if c[9] == "true" {
            e.initiator = Some(BTreeMap::from([
                ("host", c[6].to_string()),
                ("image", c[7].to_string()),
                ("user", c[8].to_string()),
                ("process_guid", c[11].to_lowercase()),
            ]));
        }
    }
    out
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn otrf_pairs_join_every_syn_to_its_process() {
    let Some(data) = common::shared_data() else {
        return;
    };
    for pair in ["covenant_psremoting_command", "empire_psremoting_stager"] {
        let dir = data.join("sysmon/otrf-atomic-pairs").join(pair);
        let tmp = tempfile::tempdir().unwrap();
        let mut inputs = common::unzip(&dir.join(format!("network_{pair}.zip")), tmp.path());
        inputs.extend(common::unzip(
            &dir.join(format!("host_{pair}.zip")),
            tmp.path(),
        ));
        let args: Vec<String> = ["conns", "-f", "jsonl", "--include-private"]
            .iter()
            .map(|s| s.to_string())
            .chain(inputs.iter().map(|p| p.display().to_string()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (recs, out) = common::jsonl(&args);
        assert!(
            out.status.success(),
            "{pair}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want =
            expected(&std::fs::read_to_string(dir.join("EXPECTED-JOIN.derived.tsv")).unwrap());
        assert!(!want.is_empty());
        let attempts = common::of_type(&recs, "attempt");
        let mut responder_only = 0;
        for (k, e) in &want {
            let a: Vec<&&Value> = attempts
                .iter()
                .filter(|a| {
                    a["src"] == k.0.as_str()
                        && a["sport"] == k.1
                        && a["dst"] == k.2.as_str()
                        && a["dport"] == k.3
                        && a["input"].as_str().unwrap().ends_with(".cap")
                })
                .collect();
            assert_eq!(a.len(), 1, "{pair} {k:?}: one attempt from the capture");
            let a = a[0];
            match &e.initiator {
                Some(want) => {
                    for (field, v) in want {
                        let got = a[*field].as_str().unwrap_or("").to_string();
                        let got = if *field == "process_guid" {
                            got.to_lowercase()
                        } else {
                            got
                        };
                        assert_eq!(&got, v, "{pair} {k:?} {field}");
                    }
                    assert!(
                        matches!(a["join_rule"].as_str(), Some("tuple" | "tuple_nearest")),
                        "{pair} {k:?}: {}",
                        a["join_rule"]
                    );
                }
                None => {
                    responder_only += 1;
                    assert!(a["image"].is_null(), "{pair} {k:?}: no initiator event");
                }
            }
        }
        let summary = common::of_type(&recs, "summary")[0];
        let join = &summary["join"];
        assert!(
            join["responder_only"].as_u64().unwrap() >= responder_only,
            "{join}"
        );
        // Every host whose clock could be compared says how far off it is
        // (0.5 to 2.5 s in these pairs).
        let offsets = join["clock_offsets"].as_array().unwrap();
        assert!(!offsets.is_empty(), "{join}");
        for o in offsets {
            let s = o["offset_s"].as_f64().unwrap().abs();
            assert!(s < 3.5, "{pair}: {o}");
        }
    }
}

/// One Sysmon Event ID 3 as a SIEM exports it, one per line.
fn eid3(n: u32, image: &str, dport: u16) -> String {
    let (utc, guid, pid, user) = (
        format!("2026-03-02 09:00:{:02}.000", n % 60),
        format!("{{00000000-0000-0000-0000-{n:012}}}"),
        n.to_string(),
        format!(r"CORP\user{n}"),
    );
    let (src, sport, dst, dport) = (
        format!("10.1.0.{n}"),
        (50_000 + n).to_string(),
        format!("203.0.113.{n}"),
        dport.to_string(),
    );
    event(
        3,
        n,
        &format!("WS{n}.corp.example"),
        &[
            ("UtcTime", &utc),
            ("ProcessGuid", &guid),
            ("ProcessId", &pid),
            ("Image", image),
            ("User", &user),
            ("Protocol", "tcp"),
            ("Initiated", "true"),
            ("SourceIp", &src),
            ("SourcePort", &sport),
            ("DestinationIp", &dst),
            ("DestinationPort", &dport),
        ],
    )
}

#[test]
fn every_image_and_port_class_lands_in_its_tier() {
    // DETECTION.md §5: (image, port) -> tier.
    let images = [
        (
            r"C:\Windows\System32\WindowsPowerShell\v1.0\PowerShell.EXE",
            true,
        ),
        (r"C:\Windows\System32\mshta.exe", true),
        (r"C:\Windows\System32\svchost.exe", true),
        (r"C:\Program Files\Mozilla Firefox\firefox.exe", false),
        (r"C:\Tools\notepad.exe", false),
    ];
    // (port, known C2, standard)
    let ports = [
        (4444, true, false),
        (1337, true, false),
        (587, true, false),
        (443, false, true),
        (8080, false, true),
        (9000, false, true),
        (5555, false, false),
        (31338, false, false),
        (1025, false, false),
        (1024, false, false),
        (135, false, false),
        (22, false, false),
    ];
    let mut lines = Vec::new();
    let mut want = BTreeMap::new();
    let mut n = 1;
    for (image, risky) in images {
        for (port, c2, standard) in ports {
            let tier = if risky && c2 {
                3
            } else if risky && port > 1024 && !standard {
                2
            } else if c2 {
                1
            } else {
                0
            };
            lines.push(eid3(n, image, port));
            want.insert(n, (tier, image, port));
            n += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("sysmon.xml");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let (recs, _) = common::jsonl(&["conns", "-f", "jsonl", log.to_str().unwrap()]);
    let attempts = common::of_type(&recs, "attempt");
    assert_eq!(attempts.len(), want.len());
    for a in &attempts {
        let n: u32 = a["pid"].as_u64().unwrap() as u32;
        let (tier, image, port) = want[&n];
        assert_eq!(a["tier"], tier, "{image} to {port}");
        assert_eq!(a["image"], image);
        assert_eq!(a["join_rule"], "sysmon");
        assert_eq!(a["host"], format!("WS{n}.corp.example"));
    }
    // The findings: one per (host, image, user, parent), the tier's
    // severity; nothing for tier 0.
    let (recs, out) = common::jsonl(&["scan", "-f", "jsonl", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let findings = common::of_type(&recs, "finding");
    let reported = want.values().filter(|(t, _, _)| *t > 0).count();
    assert_eq!(findings.len(), reported);
    for f in findings {
        let n: u32 = f["host"].as_str().unwrap()[2..]
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (tier, _, port) = want[&n];
        assert_eq!(f["risk_score"], tier);
        assert_eq!(f["ports"], serde_json::json!([port]));
        let sev = ["", "Low", "Medium", "High"][tier as usize];
        assert_eq!(f["severity"], sev);
        assert_eq!(f["user"], format!(r"CORP\user{n}"));
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn lab_c2_on_private_addresses_is_suppressed_by_default_and_tier_3_with_private() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("sysmon/evtx-attack-samples");
    let files: Vec<String> = [
        "Lateral_Movement_LM_sysmon_psexec_smb_meterpreter.evtx",
        "Execution_sysmon_mshta_sharpshooter_stageless_meterpreter.evtx",
        "Command_and_Control_bits_openvpn.evtx",
    ]
    .iter()
    .map(|f| dir.join(f).display().to_string())
    .collect();
    let mut args = vec!["scan", "-f", "jsonl"];
    args.extend(files.iter().map(String::as_str));
    let (recs, out) = common::jsonl(&args);
    assert_eq!(out.status.code(), Some(0), "nothing reported by default");
    let s = common::of_type(&recs, "summary")[0];
    assert!(common::of_type(&recs, "finding").is_empty());
    assert_eq!(s["suppressed"]["private_destination"], 2, "{s}");
    assert_eq!(s["suppressed_with_tier"]["private_destination"], 2, "{s}");
    // The BITS client's 254 Event ID 3 are not Sysmon.
    let bits = &s["per_input"][2]["sysmon"];
    assert_eq!(bits["eid3"], 0, "{bits}");
    assert!(
        bits["other_provider_same_id"].as_u64().unwrap() >= 254,
        "{bits}"
    );

    args.insert(1, "--include-private");
    let (recs, out) = common::jsonl(&args);
    assert_eq!(out.status.code(), Some(1));
    let mut got: Vec<(String, String, u64)> = common::of_type(&recs, "finding")
        .iter()
        .map(|f| {
            (
                f["image"]
                    .as_str()
                    .unwrap()
                    .rsplit('\\')
                    .next()
                    .unwrap()
                    .to_lowercase(),
                f["remote_ips"][0].as_str().unwrap().to_string(),
                f["risk_score"].as_u64().unwrap(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("mshta.exe".into(), "10.0.2.18".into(), 3),
            ("powershell.exe".into(), "10.0.2.19".into(), 3),
        ]
    );
}

/// A Sysmon event line with `data` as its EventData.
fn event(id: u16, n: u32, host: &str, data: &[(&str, &str)]) -> String {
    let fields: String = data
        .iter()
        .map(|(k, v)| format!(r#"<Data Name="{k}">{v}</Data>"#))
        .collect();
    format!(
        concat!(
            r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>"#,
            r#"<Provider Name="Microsoft-Windows-Sysmon" Guid="{{5770385f-c22a-43e0-bf4c-06f5698ffbd9}}"/>"#,
            r#"<EventID>{id}</EventID><EventRecordID>{n}</EventRecordID>"#,
            r#"<Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>{host}</Computer></System>"#,
            r#"<EventData>{fields}</EventData></Event>"#
        ),
        id = id,
        n = n,
        host = host,
        fields = fields
    )
}

#[test]
fn rdp_moved_off_3389_is_a_finding_with_its_inbound_connections() {
    let key =
        r"HKLM\System\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp\PortNumber";
    let lines = [
        // The file server's own connection says which address is its own.
        event(
            3,
            1,
            "FS01.corp.example",
            &[
                ("UtcTime", "2026-03-02 08:59:00.000"),
                ("Image", r"C:\Windows\System32\lsass.exe"),
                ("Protocol", "tcp"),
                ("Initiated", "true"),
                ("SourceIp", "10.1.4.15"),
                ("SourcePort", "50100"),
                ("DestinationIp", "10.1.4.10"),
                ("DestinationPort", "389"),
            ],
        ),
        event(
            13,
            2,
            "FS01.corp.example",
            &[
                ("EventType", "SetValue"),
                ("UtcTime", "2026-03-02 08:58:00.000"),
                ("Image", r"C:\Windows\regedit.exe"),
                ("TargetObject", key),
                ("Details", "DWORD (0x00008462)"),
            ],
        ),
        // Set back to 3389 elsewhere: not a finding.
        event(
            13,
            3,
            "WS02.corp.example",
            &[
                ("EventType", "SetValue"),
                ("UtcTime", "2026-03-02 08:58:00.000"),
                ("TargetObject", key),
                ("Details", "DWORD (0x00000d3d)"),
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("fs01.xml");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let cap = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/rdp-33890.pcapng");
    // Independently of the join: the capture's attempts to the new port.
    let (alone, _) = common::jsonl(&["conns", "-f", "jsonl", cap]);
    let inbound: Vec<&Value> = common::of_type(&alone, "attempt")
        .into_iter()
        .filter(|a| a["dst"] == "10.1.4.15" && a["dport"] == 33890)
        .collect();
    assert!(!inbound.is_empty());
    let (recs, out) = common::jsonl(&[
        "scan",
        "-f",
        "jsonl",
        "--fail-on",
        "medium",
        cap,
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "a Medium finding");
    let rdp = common::of_type(&recs, "rdp_port");
    assert_eq!(rdp.len(), 1, "{rdp:?}");
    let r = rdp[0];
    assert_eq!(r["host"], "FS01.corp.example");
    assert_eq!(r["port"], 33890);
    assert_eq!(r["image"], r"C:\Windows\regedit.exe");
    assert_eq!(r["addresses"], serde_json::json!(["10.1.4.15"]));
    assert_eq!(r["inbound"], inbound.len() as u64);
    let mut sources: Vec<&str> = inbound.iter().map(|a| a["src"].as_str().unwrap()).collect();
    sources.sort();
    sources.dedup();
    assert_eq!(r["inbound_sources"], serde_json::json!(sources));
    assert_eq!(common::of_type(&recs, "summary")[0]["rdp_port_changes"], 1);
    // The CSV report says it too, so that its exit status has a row.
    let out = common::portent(&["scan", "-f", "csv", cap, log.to_str().unwrap()]);
    let csv = String::from_utf8_lossy(&out.stdout);
    let row = csv
        .lines()
        .find(|l| l.ends_with(",rdp_port"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(
        row.starts_with(r"Medium,,FS01.corp.example,C:\Windows\regedit.exe,,,33890,"),
        "{row}"
    );
}

#[test]
fn a_cut_gzip_sysmon_log_is_read_as_far_as_it_goes_and_said() {
    use std::io::Write;
    let lines: Vec<String> = (1..=200)
        .map(|n| eid3(n, r"C:\Windows\System32\cmd.exe", 4444))
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all((lines.join("\n") + "\n").as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sysmon.xml.gz");
    std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let (recs, out) = common::jsonl(&["conns", "-f", "jsonl", p.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gzip_broken"), "{err}");
    let n = common::of_type(&recs, "attempt").len();
    assert!(n > 20 && n < 200, "{n} of 200 events before the cut");
}

/// The OTRF pairs as they are published, zipped: every file in the two
/// archives is an input (named `ARCHIVE!FILE`), and the attempts and
/// their processes are those of the unzipped files.
#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn zipped_datasets_read_as_their_files() {
    let Some(data) = common::shared_data() else {
        eprintln!("SKIPPED: no shared data (OTRF zips)");
        return;
    };
    let key = |recs: &[Value]| -> Vec<String> {
        common::of_type(recs, "attempt")
            .iter()
            .map(|a| {
                format!(
                    "{} {}:{} {}:{} {} {}",
                    a["ts"], a["src"], a["sport"], a["dst"], a["dport"], a["image"], a["user"]
                )
            })
            .collect()
    };
    for pair in ["covenant_psremoting_command", "empire_psremoting_stager"] {
        let dir = data.join("sysmon/otrf-atomic-pairs").join(pair);
        let zips = [
            dir.join(format!("network_{pair}.zip")),
            dir.join(format!("host_{pair}.zip")),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for z in &zips {
            files.extend(common::unzip(z, tmp.path()));
        }
        let run = |inputs: &[std::path::PathBuf]| {
            let mut args = vec![
                "conns".to_string(),
                "-q".into(),
                "-f".into(),
                "jsonl".into(),
            ];
            args.push("--include-private".into());
            args.extend(inputs.iter().map(|p| p.display().to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::jsonl(&args).0
        };
        let (zipped, unzipped) = (run(&zips), run(&files));
        let got = key(&zipped);
        assert!(
            got.iter().filter(|k| !k.ends_with("null null")).count() > 3,
            "{pair}: {got:?}"
        );
        assert_eq!(got, key(&unzipped), "{pair}");
        let inputs = &common::of_type(&zipped, "summary")[0]["per_input"];
        let names: Vec<&str> = inputs
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["input"].as_str().unwrap())
            .collect();
        assert!(names.iter().all(|n| n.contains(".zip!")), "{names:?}");
    }
}
