//! Flow exports (NetFlow v5/v9, IPFIX) on real exporters' data from
//! `../shared/data/netflow`, with pmacct's expected flows as the oracle.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn conns(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["conns", "-q", "-f", "jsonl", "--include-private"];
    a.extend_from_slice(args);
    common::jsonl(&a).0
}

fn per_input(recs: &[Value]) -> Vec<Value> {
    common::of_type(recs, "summary")[0]["per_input"]
        .as_array()
        .unwrap()
        .clone()
}

/// (source, source port, destination, destination port) from a record,
/// under the given field names.
fn tuple(r: &Value, [src, sport, dst, dport]: [&str; 4]) -> (String, u64, String, u64) {
    (
        r[src].as_str().unwrap().to_string(),
        r[sport].as_u64().unwrap(),
        r[dst].as_str().unwrap().to_string(),
        r[dport].as_u64().unwrap(),
    )
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn every_logstash_datagram_decodes_and_invalid_ones_say_why() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("netflow/logstash-codec-netflow");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".dat"))
        .collect();
    files.sort();
    // Templates before data, as an exporter sends them.
    files.sort_by_key(|f| {
        let n = Path::new(f)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        !(n.contains("tpl") || n.contains("opt"))
    });
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let recs = conns(&args);
    let inputs = per_input(&recs);
    assert_eq!(inputs.len(), files.len());
    for r in &inputs {
        let name = r["input"].as_str().unwrap();
        assert!(r["error"].is_null(), "{name}: {}", r["error"]);
        assert_eq!(r["format"], "flow-export", "{name}");
        if name.contains("netflow5_test_invalid") {
            // The header claims more records than a datagram holds.
            assert_eq!(r["skipped"]["bad_record_length"], 1, "{name}");
            assert_eq!(r["flows"]["messages"], 0, "{name}");
        } else if name.contains("netflow9_test_invalid01") {
            // Named invalid after an old logstash parser's failure on it, but
            // well formed: two templates, an options template and its data,
            // and one IPv6 and one IPv4 record, with the header's count being
            // the two flow records (as softflowd counts). logstash's codec
            // spec also decodes it without error.
            assert_eq!(r["flows"]["records"], 2, "{name}");
            assert_eq!(r["flows"]["count_mismatch"], 0, "{name}");
            assert_eq!(r["skipped"], serde_json::json!({}), "{name}");
        } else {
            assert!(r["flows"]["messages"].as_u64().unwrap() >= 1, "{name}");
        }
    }
    let by_name = |n: &str| {
        inputs
            .iter()
            .find(|r| r["input"].as_str().unwrap().ends_with(n))
            .unwrap()["flows"]
            .clone()
    };
    // NetFlow v5 from a MikroTik: 30 records, 11 TCP with SYN.
    let m = by_name("netflow5_test_microtik.dat");
    assert_eq!(
        (m["records"].as_u64(), m["syn_records"].as_u64()),
        (Some(30), Some(11))
    );
    // IPFIX data decoded with the template from the file before it.
    assert!(
        by_name("ipfix_test_mikrotik_data258.dat")["records"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert!(
        by_name("netflow9_test_paloalto_panos_data.dat")["syn_records"]
            .as_u64()
            .unwrap()
            > 0
    );
    // Attempts from flows carry what the record knew.
    let a = common::of_type(&recs, "attempt");
    assert!(!a.is_empty());
    assert!(a.iter().all(|a| a["flow"]["version"].as_u64().is_some()));
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn pmacct_router_exports_give_the_flows_nfacctd_gives() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("netflow/pmacct-tests");
    for (test, records) in [
        ("100-IPFIXv10-CISCO", 12),
        ("101-NFv9-CISCO-cust_primitives", 51),
        // IPv6, sampling from options data; ICMPv6 only, so no attempts.
        ("104-IPFIXv10-IPv6-CISCO-sampling_option", 3),
    ] {
        let t = dir.join(test);
        let recs = conns(&[t.join("traffic-00.pcap").to_str().unwrap()]);
        let flows = &per_input(&recs)[0]["flows"];
        assert_eq!(flows["records"], records, "{test}");
        assert_eq!(flows["bad_messages"], 0, "{test}");
        // The oracle: nfacctd's records with SYN among their TCP flags.
        let want: BTreeSet<(String, u64, String, u64)> =
            std::fs::read_to_string(t.join("output-flow-00.json"))
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|r| r["ip_proto"] == "tcp" && r["tcp_flags"].to_string().contains("SYN"))
                .map(|r| tuple(&r, ["ip_src", "port_src", "ip_dst", "port_dst"]))
                .collect();
        let got: BTreeSet<(String, u64, String, u64)> = common::of_type(&recs, "attempt")
            .iter()
            .map(|a| tuple(a, ["src", "sport", "dst", "dport"]))
            .collect();
        assert_eq!(got, want, "{test}");
        for a in common::of_type(&recs, "attempt") {
            assert_eq!(a["flow"]["exporter"], "138.187.57.55", "{test}");
        }
        assert_eq!(
            want.len(),
            common::of_type(&recs, "attempt").len(),
            "{test}: one attempt per SYN record"
        );
    }
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn netflow_v5_in_a_capture() {
    let Some(data) = common::shared_data() else {
        return;
    };
    // One real v5 datagram on UDP 9990 (not a usual collector port: found
    // by content), 29 flows.
    let p = data.join("netflow/akvorado/nfv5.pcap");
    let recs = conns(&[p.to_str().unwrap()]);
    let r = &per_input(&recs)[0];
    assert_eq!(r["format"], "pcap");
    assert_eq!(r["flows"]["messages"], 1);
    assert_eq!(r["flows"]["records"], 29);
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn every_akvorado_and_ndpi_export_decodes() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("netflow/akvorado");
    let path = |n: &str| dir.join(n).display().to_string();
    // (inputs in the order an exporter sends them, flow records expected
    // in the last input, TCP records with SYN there).
    let cases: [(&[&str], u64, u64); 15] = [
        (&["datalink-template.pcap", "datalink-data.pcap"], 1, 0),
        (
            &[
                "ethernet-over-mpls-with-control-word-template.pcap",
                "ethernet-over-mpls-with-control-word-data.pcap",
            ],
            10,
            0,
        ),
        (&["icmp-template.pcap", "icmp-data.pcap"], 2, 0),
        (&["ipfix-srv6-template.pcap", "ipfix-srv6-data.pcap"], 1, 0),
        (&["ipfixprobe-templates.pcap", "ipfixprobe-data.pcap"], 4, 1),
        (
            &["juniper-cpid-template.pcap", "juniper-cpid-data.pcap"],
            1,
            0,
        ),
        (
            &[
                "multiplesamplingrates-options-template.pcap",
                "multiplesamplingrates-options-data.pcap",
                "multiplesamplingrates-template.pcap",
                "multiplesamplingrates-data.pcap",
            ],
            12,
            0,
        ),
        (&["options-template.pcap", "options-data.pcap"], 0, 0),
        (
            &["samplingrate-template.pcap", "samplingrate-data.pcap"],
            6,
            0,
        ),
        (&["template.pcap", "data.pcap"], 4, 0),
        // Data before its templates in one capture: replayed.
        (&["data+templates.pcap"], 21, 4),
        (&["mpls.pcap"], 2, 0),
        (&["nat.pcap"], 9, 0),
        (&["physicalinterfaces.pcap"], 8, 1),
        (&["nfv5.pcap"], 29, 0),
    ];
    for (files, records, syns) in cases {
        let args: Vec<String> = files.iter().map(|f| path(f)).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let recs = conns(&args);
        let inputs = per_input(&recs);
        for r in &inputs {
            assert!(r["error"].is_null(), "{files:?}: {}", r["error"]);
            let f = &r["flows"];
            assert!(f["messages"].as_u64().unwrap() >= 1, "{files:?}");
            assert_eq!(f["bad_messages"], 0, "{files:?}");
            assert_eq!(f["data_without_template"], 0, "{files:?}");
            assert_eq!(f["count_mismatch"], 0, "{files:?}");
        }
        let last = &inputs.last().unwrap()["flows"];
        assert_eq!(last["records"], records, "{files:?}");
        assert_eq!(last["syn_records"], syns, "{files:?}");
    }
    // nDPI: a FRITZ!Box datagram holding only a template; ten v9
    // datagrams whose templates were never captured (counted and said).
    let nd = data.join("netflow/ndpi-tests");
    let fritz = conns(&[nd.join("netflow-fritz.pcap").to_str().unwrap()]);
    let f = &per_input(&fritz)[0]["flows"];
    assert_eq!(
        (f["messages"].as_u64(), f["records"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(f["bad_messages"], 0);
    let out = common::portent(&[
        "conns",
        "-f",
        "jsonl",
        nd.join("netflowv9.pcap").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("exporter 192.168.2.134") && stderr.contains("never got their template"),
        "{stderr}"
    );
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let f = &per_input(&recs)[0]["flows"];
    assert_eq!(f["messages"], 10);
    assert_eq!(f["records"], 0);
    assert_eq!(f["data_without_template"], 23);
}

/// Data records in one message as netflow_parser decodes it (templates
/// kept in `parser` across messages, as portent keeps them across files);
/// `None` when it could not decode the message.
fn oracle_records(parser: &mut netflow_parser::NetflowParser, msg: &[u8]) -> Option<u64> {
    use netflow_parser::variable_versions::ipfix::FlowSetBody as I;
    use netflow_parser::variable_versions::v9::FlowSetBody as N;
    use netflow_parser::NetflowPacket;
    let mut n = 0;
    let r = parser.parse_bytes(msg);
    if r.error.is_some() {
        return None;
    }
    for p in r.packets {
        match p {
            NetflowPacket::V5(v) => n += v.flowsets.len() as u64,
            NetflowPacket::V9(v) => {
                for fs in &v.flowsets {
                    if let N::Data(d) = &fs.body {
                        n += d.fields.len() as u64;
                    }
                }
            }
            NetflowPacket::IPFix(m) => {
                for fs in &m.flowsets {
                    match &fs.body {
                        I::Data(d) => n += d.fields.len() as u64,
                        I::V9Data(d) => n += d.fields.len() as u64,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(n)
}

/// The logstash corpus by exporter: the name up to `_tpl`, `_data` or
/// `_opt` (each exporter's templates and data together, apart from other
/// exporters whose template IDs would collide).
fn exporter_of(name: &str) -> &str {
    ["_tpl", "_opttpl", "_opt", "_data"]
        .iter()
        .filter_map(|t| name.find(t))
        .min()
        .map_or(name, |i| &name[..i])
}

#[test]
#[cfg_attr(not(portent_shared_data), ignore = "needs the shared real data")]
fn record_counts_agree_with_netflow_parser() {
    let Some(data) = common::shared_data() else {
        return;
    };
    let dir = data.join("netflow/logstash-codec-netflow");
    let mut groups: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> =
        Default::default();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        if n.ends_with(".dat") && !n.contains("invalid") {
            groups
                .entry(exporter_of(&n).to_string())
                .or_default()
                .push(p);
        }
    }
    let mut differ = Vec::new();
    let mut failed_oracle = Vec::new();
    let mut total = 0;
    for files in groups.values_mut() {
        files.sort();
        files.sort_by_key(|f| {
            let n = f.file_name().unwrap().to_string_lossy().to_string();
            !(n.contains("tpl") || n.contains("opt"))
        });
        let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let inputs = per_input(&conns(&args));
        let mut parser = netflow_parser::NetflowParser::default();
        for (f, r) in files.iter().zip(&inputs) {
            let want = oracle_records(&mut parser, &std::fs::read(f).unwrap());
            let got = r["flows"]["records"].as_u64().unwrap_or(0);
            total += got;
            if want.is_none_or(|n| n == 0) {
                // netflow_parser fails on these or decodes nothing (they
                // hold variable-length and enterprise fields); portent's
                // decoding of those is checked by the unit tests of
                // variable- and zero-length fields.
                if got > 0 {
                    failed_oracle.push(f.file_name().unwrap().to_string_lossy().to_string());
                }
            } else if Some(got) != want {
                differ.push(format!(
                    "{}: portent {got}, netflow_parser {want:?}",
                    f.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(total > 400, "{total}");
    assert!(differ.is_empty(), "{differ:#?}");
    assert!(failed_oracle.len() < 15, "{failed_oracle:#?}");
}

/// (source, destination, destination port) of every attempt in a run.
fn attempt_set(inputs: &[&str]) -> BTreeSet<(String, String, u64)> {
    common::of_type(&conns(inputs), "attempt")
        .iter()
        .map(|a| {
            let (src, _, dst, dport) = tuple(a, ["src", "sport", "dst", "dport"]);
            (src, dst, dport)
        })
        .collect()
}

#[test]
fn packets_and_softflowd_flows_give_the_same_attempts() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softflowd");
    let captures = [
        ("emotet", "ndpi-tests/emotet.pcap"),
        ("trickbot", "ndpi-tests/trickbot.pcap"),
        ("tor", "ndpi-tests/tor.pcap"),
        ("ratinfected", "chrissanders-packets/ratinfected.pcapng"),
        (
            "cryptowall4_c2",
            "chrissanders-packets/cryptowall4_c2.pcapng",
        ),
    ];
    let shared = common::shared_data();
    for (name, capture) in captures {
        let sets: Vec<(&str, BTreeSet<_>)> = ["v5", "v9", "ipfix", "biflow"]
            .into_iter()
            .map(|f| {
                let p = here.join(format!("{name}-{f}.pcap"));
                (f, attempt_set(&[p.to_str().unwrap()]))
            })
            .collect();
        assert!(
            !sets[0].1.is_empty(),
            "{name}: no attempts in the v5 export"
        );
        for (f, s) in &sets[1..] {
            assert_eq!(s, &sets[0].1, "{name}: {f} export against v5");
        }
        if let Some(data) = &shared {
            let p = data.join("c2-malware").join(capture);
            let packets = attempt_set(&[p.to_str().unwrap()]);
            assert_eq!(packets, sets[0].1, "{name}: capture against its exports");
        }
    }
}

/// A v5 export of real traffic replayed fast: both records of every
/// connection start in the same millisecond, so pairing cannot go by time;
/// every connection must still be oriented as the capture orients it, and
/// the ties are counted.
#[test]
fn v5_of_traffic_replayed_fast_orients_every_connection_as_its_capture() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softflowd");
    let shared = common::shared_data();
    for (name, capture) in [
        ("emotet", "ndpi-tests/emotet.pcap"),
        ("trickbot", "ndpi-tests/trickbot.pcap"),
        ("tor", "ndpi-tests/tor.pcap"),
        ("ratinfected", "chrissanders-packets/ratinfected.pcapng"),
        (
            "cryptowall4_c2",
            "chrissanders-packets/cryptowall4_c2.pcapng",
        ),
    ] {
        let fast = here.join(format!("{name}-v5fast.pcap"));
        let fast = fast.to_str().unwrap();
        let slow = here.join(format!("{name}-v5.pcap"));
        let set = attempt_set(&[fast]);
        assert!(!set.is_empty(), "{name}: no attempts");
        assert_eq!(
            set,
            attempt_set(&[slow.to_str().unwrap()]),
            "{name}: against v5 at speed"
        );
        if let Some(data) = &shared {
            let p = data.join("c2-malware").join(capture);
            assert_eq!(
                attempt_set(&[p.to_str().unwrap()]),
                set,
                "{name}: against the capture"
            );
        }
        let recs = conns(&[fast]);
        let flows = &common::of_type(&recs, "summary")[0]["flows"];
        let (ties, responders) = (&flows["pair_ties"], &flows["paired_responder_records"]);
        assert!(ties.as_u64().unwrap() > 0, "{name}: {flows}");
        assert!(ties.as_u64() <= responders.as_u64(), "{name}: {flows}");
    }
}

/// A capture of one IPFIX exporter (templates, then data with one SYN
/// record to 203.0.113.7:4444) sending to UDP `port`; each message padded
/// with 4 zero bytes past its length, as some exporters pad datagrams, so
/// only the version number says it is IPFIX.
fn padded_ipfix_capture(port: u16) -> tempfile::NamedTempFile {
    use portent::testkit::synth::{self, CaptureFormat, CaptureWriter, Exporter, FlowRec};
    let now = 1_700_000_000_000u64;
    let mut e = Exporter::new(10, 7, now - 3_600_000);
    let rec = FlowRec {
        start_ms: now - 2000,
        end_ms: now - 1000,
        src: "10.0.0.5".parse().unwrap(),
        sport: 50123,
        dst: "203.0.113.7".parse().unwrap(),
        dport: 4444,
        proto: 6,
        tcp_flags: 0x1b,
        packets: 12,
        bytes: 3400,
        in_if: 3,
        out_if: 4,
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut w = CaptureWriter::new(
        std::fs::File::create(file.path()).unwrap(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        1,
    )
    .unwrap();
    for mut msg in [e.templates(now), e.data(now, &[rec])] {
        msg.extend([0; 4]);
        let udp = synth::udp_packet(
            "192.0.2.1:40000".parse().unwrap(),
            format!("192.0.2.100:{port}").parse().unwrap(),
            &msg,
        );
        w.packet(
            portent::time::Ts(now as i64 * 1_000_000),
            &synth::ethernet_ip(&udp),
        )
        .unwrap();
    }
    w.finish().unwrap();
    file
}

#[test]
fn flow_port_names_a_collector_port() {
    let cap = padded_ipfix_capture(6343);
    let path = cap.path().to_str().unwrap();
    // Padded past its length on an unusual port: not taken for IPFIX.
    let recs = conns(&[path]);
    assert!(per_input(&recs)[0]["flows"].is_null());
    assert!(common::of_type(&recs, "attempt").is_empty());
    // Named with --flow-port, it is.
    let recs = conns(&["--flow-port", "6343", path]);
    let flows = &per_input(&recs)[0]["flows"];
    assert_eq!(flows["messages"], 2);
    assert_eq!(flows["records"], 1);
    let a = common::of_type(&recs, "attempt");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["dst"], "203.0.113.7");
    assert_eq!(a[0]["dport"], 4444);
    assert_eq!(a[0]["ts"], "2023-11-14T22:13:18.000000Z");
    let f = &a[0]["flow"];
    assert_eq!(
        (f["packets"].as_u64(), f["bytes"].as_u64()),
        (Some(12), Some(3400))
    );
    assert_eq!(
        (f["in_if"].as_u64(), f["out_if"].as_u64()),
        (Some(3), Some(4))
    );
    assert_eq!(f["observation_domain"], 7);
    assert_eq!(f["exporter"], "192.0.2.1");
    assert_eq!(f["duration_ms"], 1000);
    // The summary totals the flows; CSV carries the flow columns.
    let summary = common::of_type(&recs, "summary")[0];
    assert_eq!(summary["flows"]["syn_records"], 1);
    let out = common::portent(&["conns", "-q", "-f", "csv", "--flow-port", "6343", path]);
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(
        (col("flow_packets"), col("exporter"), col("in_if")),
        ("12", "192.0.2.1", "3")
    );
}

#[test]
fn export_datagrams_are_read_where_they_lie_in_the_capture() {
    for (f, version) in [
        ("emotet-v5.pcap", 5u16),
        ("emotet-v9.pcap", 9),
        ("emotet-ipfix.pcap", 10),
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/softflowd")
            .join(f);
        let data = std::fs::read(&p).unwrap();
        let out = portent::source::capture::read_capture(f, &data, 0, &|_| {}).unwrap();
        assert!(!out.exports.is_empty(), "{f}");
        assert!(out.export_bytes.is_empty(), "{f}: nothing copied");
        for e in &out.exports {
            assert!(e.in_input, "{f}");
            let d = e.bytes(&data, &out.export_bytes);
            assert_eq!(u16::from_be_bytes([d[0], d[1]]), version, "{f}");
        }
    }
}

#[test]
fn exports_in_a_gzip_capture_give_what_the_plain_capture_gives() {
    use std::io::Write;
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softflowd/emotet-ipfix.pcap");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&std::fs::read(&p).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let z = dir.path().join("emotet-ipfix.pcap.gz");
    std::fs::write(&z, gz.finish().unwrap()).unwrap();
    let plain = attempt_set(&[p.to_str().unwrap()]);
    assert!(!plain.is_empty());
    assert_eq!(attempt_set(&[z.to_str().unwrap()]), plain);
}
