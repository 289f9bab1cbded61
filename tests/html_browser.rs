//! The HTML report as a reader sees it: rendered by headless Chromium, the
//! DOM it builds is checked, not the text portent wrote.
//!
//! - the samples' report shows every finding's host, one plot per beacon,
//!   and its script ran (`data-ready` on the body);
//! - clicking is replaced by the page's own URL-fragment hook
//!   (`#sort=TABLE:COLUMN:DIR`, `#filter=TABLE:TEXT`), which runs the same
//!   sort and filter code: rows come out in the new order, or hidden;
//! - markup in image names, user and host names, file names, HTTP Host,
//!   URI and User-Agent from real inputs (a Sysmon log and a capture) is
//!   shown as text: no element it describes exists in the DOM, and no
//!   handler it carries ran;
//! - the page asks the network for nothing: Chromium's own network log of
//!   the page is empty, every `src`/`href` in the DOM is in-page or
//!   `data:`, and the page declares its Content-Security-Policy;
//! - the checks themselves catch what they look for: an unescaped page
//!   runs the injected handler, a page with an external image asks for it.
//!
//! A screenshot of the samples' report is left in Cargo's temporary
//! directory for tests (the path is printed). Without Chromium the browser
//! tests print `skipped: chromium not installed` and pass, unless
//! `PORTENT_REQUIRE_CHROMIUM` is set (CI installs it and sets it).

mod common;

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use portent::decode::{TCP_ACK, TCP_SYN};
use portent::testkit::synth::{self, CaptureFormat, CaptureWriter};
use portent::time::Ts;
use serde_json::{json, Value};

/// How long one Chromium run may take before the test gives up on it.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);

/// One browser at a time: the machine is small, and each run is a few
/// processes.
static BROWSER: Mutex<()> = Mutex::new(());

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Chromium binary, or `None` (after saying so) when it is missing.
fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("PORTENT_CHROMIUM")
        .map(|p| vec![PathBuf::from(p)])
        .unwrap_or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .collect()
        });
    if let Some(p) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var_os("PORTENT_REQUIRE_CHROMIUM").is_some() {
        panic!("PORTENT_REQUIRE_CHROMIUM is set but chromium is not installed");
    }
    println!("skipped: chromium not installed");
    eprintln!("skipped: chromium not installed");
    None
}

/// What the browser made of a page.
struct Rendered {
    /// The DOM after the page's script ran (`--dump-dom`).
    dom: String,
    /// URLs the page itself asked the network for (from Chromium's network
    /// log: requests made on behalf of a `file://` page; the browser's own
    /// background requests are not the page's).
    page_requests: Vec<String>,
}

/// Runs Chromium headless on `file` (with `fragment` after `#`), with every
/// host name unresolvable, and `extra` arguments.
fn run_chromium(bin: &Path, file: &Path, fragment: &str, extra: &[String]) -> Rendered {
    static RUN: AtomicUsize = AtomicUsize::new(0);
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    let netlog = work.path().join(format!("net-{n}.json"));
    let mut url = format!("file://{}", file.canonicalize().unwrap().display());
    if !fragment.is_empty() {
        url.push('#');
        url.push_str(fragment);
    }
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg(format!("--log-net-log={}", netlog.display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().unwrap();
    let log = std::fs::read_to_string(&netlog).unwrap_or_default();
    Rendered {
        dom,
        page_requests: page_requests(&log),
    }
}

/// The URLs of requests a `file://` page made, from a network log (one
/// event per line; the last lines may be cut when the browser exits).
fn page_requests(log: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for line in log.lines() {
        let line = line.trim().trim_end_matches(',');
        let Ok(ev) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let p = &ev["params"];
        let from_page = p["network_isolation_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("file://"));
        if let (true, Some(url)) = (from_page, p["url"].as_str()) {
            if !urls.iter().any(|u| u == url) {
                urls.push(url.to_string());
            }
        }
    }
    urls
}

fn render(bin: &Path, file: &Path, fragment: &str) -> Rendered {
    run_chromium(bin, file, fragment, &["--dump-dom".to_string()])
}

/// A start tag of the DOM: its name and attributes, as Chromium serialises
/// them (names in lower case, values in double quotes, `&` and `"`
/// escaped; text never holds a raw `<`).
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The start tags of a serialised DOM, in order; the insides of `script`
/// and `style` are skipped (they are not markup).
fn tags(dom: &str) -> Vec<Tag> {
    let b = dom.as_bytes();
    let mut out: Vec<Tag> = Vec::new();
    let mut i = 0;
    while let Some(lt) = dom[i..].find('<') {
        i += lt + 1;
        if dom[i..].starts_with("!--") {
            i += dom[i..].find("-->").map_or(dom.len() - i, |e| e + 3);
            continue;
        }
        if i >= b.len() || !b[i].is_ascii_alphabetic() {
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
            i += 1;
        }
        let mut tag = Tag {
            name: dom[start..i].to_ascii_lowercase(),
            attrs: Vec::new(),
        };
        loop {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' || b[i] == b'/' {
                break;
            }
            let k0 = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
                i += 1;
            }
            let key = dom[k0..i].to_ascii_lowercase();
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i] as char;
                    let end = dom[i + 1..].find(q).map_or(dom.len(), |e| i + 1 + e);
                    value = dom[i + 1..end]
                        .replace("&quot;", "\"")
                        .replace("&amp;", "&");
                    i = (end + 1).min(dom.len());
                } else {
                    let v0 = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = dom[v0..i].to_string();
                }
            }
            tag.attrs.push((key, value));
        }
        if tag.name == "script" || tag.name == "style" {
            let close = format!("</{}", tag.name);
            i += dom[i..].find(&close).unwrap_or(dom.len() - i);
        }
        out.push(tag);
    }
    out
}

/// Checks that the DOM loads nothing and runs nothing but the page's own
/// script: no event-handler attribute, no element that fetches or embeds,
/// every URL-bearing attribute in-page or `data:`.
fn assert_inert(dom: &str) {
    let tags = tags(dom);
    assert_eq!(
        tags.iter().filter(|t| t.name == "script").count(),
        1,
        "the page's own script and no other"
    );
    for t in &tags {
        assert!(
            !matches!(
                t.name.as_str(),
                "img"
                    | "iframe"
                    | "object"
                    | "embed"
                    | "frame"
                    | "audio"
                    | "video"
                    | "source"
                    | "form"
                    | "base"
                    | "textarea"
                    | "image"
                    | "foreignobject"
                    | "use"
            ),
            "an element that should not be there: {t:?}"
        );
        if t.name == "meta" {
            assert_ne!(t.attr("http-equiv"), Some("refresh"), "{t:?}");
        }
        for (k, v) in &t.attrs {
            assert!(!k.starts_with("on"), "an event handler: {t:?}");
            if matches!(
                k.as_str(),
                "src"
                    | "href"
                    | "xlink:href"
                    | "action"
                    | "formaction"
                    | "poster"
                    | "srcset"
                    | "background"
                    | "ping"
                    | "data"
            ) {
                assert!(
                    v.starts_with('#') || v.starts_with("data:"),
                    "{k}={v:?} leaves the page: {t:?}"
                );
            }
        }
    }
    let body = tags.iter().find(|t| t.name == "body").expect("a body");
    assert_eq!(
        body.attr("data-ready"),
        Some("1"),
        "the page's script did not finish"
    );
    assert_eq!(body.attr("data-pwned"), None, "an injected handler ran");
}

/// The report's Content-Security-Policy, as the file declares it.
fn assert_policy(html: &str) {
    assert!(
        html.contains(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        ),
        "no CSP meta tag"
    );
}

/// The cells of `class` in table `id`'s body rows, in DOM order, with
/// whether each row is hidden.
fn column(dom: &str, table: &str, class: &str) -> Vec<(String, bool)> {
    let from = dom
        .find(&format!("id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}"));
    let body = &dom[from..];
    let body = &body[body.find("<tbody>").unwrap()..];
    let end = body.find("</table>").unwrap();
    let body = &body[..end];
    let mut out = Vec::new();
    for row in body.split("<tr").skip(1) {
        let hidden = row[..row.find('>').unwrap()].contains("hidden");
        let needle = format!("class=\"{class}\"");
        if let Some(at) = row.find(&needle) {
            let cell = &row[at..];
            let text = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
            out.push((text.to_string(), hidden));
        }
    }
    out
}

/// A scratch directory for a test's files.
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("portent-html-")
        .tempdir()
        .unwrap()
}

fn portent_ok(args: &[&str]) {
    let out = common::portent(args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "portent {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// Without a browser.

#[test]
fn the_same_run_writes_the_same_bytes() {
    let dir = scratch();
    let samples = root().join("samples");
    let samples = samples.to_str().unwrap();
    let (a, b) = (dir.path().join("a.html"), dir.path().join("b.htm"));
    portent_ok(&["scan", "-q", samples, "-o", a.to_str().unwrap()]);
    portent_ok(&["scan", "-q", "-j", "1", samples, "-o", b.to_str().unwrap()]);
    let (a, b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(
        a.starts_with(b"<!DOCTYPE html>"),
        "the extension chose HTML"
    );
    assert_eq!(a, b, "two runs on the same input differ");
    // The format by name, on stdout, for both commands.
    for cmd in ["scan", "conns"] {
        let out = common::portent(&[cmd, "-q", "-f", "html", samples]);
        let page = String::from_utf8(out.stdout).unwrap();
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert_policy(&page);
        // Nothing from anywhere: not a single URL in the page.
        assert!(!page.contains("http:") && !page.contains("https:"), "{cmd}");
    }
}

// ---------------------------------------------------------------------------
// In the browser.

#[test]
fn the_samples_report_shows_every_finding_and_a_plot_per_beacon() {
    let Some(bin) = chromium() else { return };
    let dir = scratch();
    let samples = root().join("samples");
    let report = dir.path().join("report.html");
    portent_ok(&[
        "scan",
        "-q",
        samples.to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    assert_policy(&html);
    // What JSONL says the run found: the page must show the same.
    let (recs, _) = common::jsonl(&["scan", "-q", "-f", "jsonl", samples.to_str().unwrap()]);
    let hosts: Vec<&str> = recs
        .iter()
        .filter(|r| r["type"] == "finding")
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    let beacons = recs.iter().filter(|r| r["type"] == "beacon").count();
    assert_eq!((hosts.len(), beacons), (3, 2), "the samples changed");

    let r = render(&bin, &report, "");
    assert_inert(&r.dom);
    assert!(r.page_requests.is_empty(), "{:?}", r.page_requests);
    let shown: Vec<String> = column(&r.dom, "findings-table", "wrap host")
        .into_iter()
        .map(|(h, _)| h)
        .collect();
    assert_eq!(shown, hosts, "the findings table, in JSONL's order");
    let plots = tags(&r.dom)
        .into_iter()
        .filter(|t| t.name == "svg" && t.attr("class") == Some("beacon-plot"))
        .count();
    assert_eq!(plots, beacons, "one plot per beacon");
    // The script filled in the row counts.
    assert!(r.dom.contains("3 of 3 rows shown"), "row count not written");

    screenshot(&bin, &report, "samples-report.png");
}

/// Takes a screenshot of `page` into Cargo's temporary directory for tests,
/// checks that it is a PNG of some substance, and prints where it is.
fn screenshot(bin: &Path, page: &Path, name: &str) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html_browser");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(name);
    let _ = std::fs::remove_file(&png);
    run_chromium(
        bin,
        page,
        "",
        &[
            format!("--screenshot={}", png.display()),
            "--window-size=1280,2000".to_string(),
            "--hide-scrollbars".to_string(),
        ],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 20_000);
    println!("screenshot: {}", png.display());
}

#[test]
fn headers_sort_and_the_box_filters_in_the_browser() {
    let Some(bin) = chromium() else { return };
    let dir = scratch();
    let samples = root().join("samples");
    let samples = samples.to_str().unwrap();
    let scan = dir.path().join("scan.html");
    let conns = dir.path().join("conns.html");
    portent_ok(&["scan", "-q", samples, "-o", scan.to_str().unwrap()]);
    portent_ok(&["conns", "-q", samples, "-o", conns.to_str().unwrap()]);

    // As written: highest severity first.
    let hosts =
        |r: &Rendered| -> Vec<(String, bool)> { column(&r.dom, "findings-table", "wrap host") };
    let plain = render(&bin, &scan, "");
    let names = |v: Vec<(String, bool)>| v.into_iter().map(|(h, _)| h).collect::<Vec<_>>();
    assert_eq!(
        names(hosts(&plain)),
        ["10.0.5.23", "10.20.30.40", "192.168.56.10"]
    );
    // Column 6 is the count (12, 10, 1): ascending reverses the order.
    let sorted = render(&bin, &scan, "sort=findings-table:6:asc");
    assert_inert(&sorted.dom);
    assert_eq!(
        names(hosts(&sorted)),
        ["192.168.56.10", "10.20.30.40", "10.0.5.23"]
    );
    assert!(sorted.dom.contains("aria-sort=\"ascending\">count"));
    // Numbers sort as numbers: by destination port, descending, the RDP
    // sessions on 33890 come first (as text, "9418" would).
    let by_port = render(&bin, &conns, "sort=attempts-table:4:desc");
    assert_inert(&by_port.dom);
    let dports = dports(&by_port.dom);
    assert_eq!(dports.len(), 89, "every attempt of the samples is a row");
    assert_eq!(dports[0], 33890);
    assert!(dports.windows(2).all(|w| w[0] >= w[1]), "{dports:?}");
    // The filter hides the rows without the text and says how many are left.
    let filtered = render(&bin, &scan, "filter=findings-table:8088");
    assert_inert(&filtered.dom);
    let rows = hosts(&filtered);
    let visible: Vec<&str> = rows
        .iter()
        .filter(|(_, h)| !h)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(visible, ["10.0.5.23"]);
    assert!(filtered.dom.contains("1 of 3 rows shown"));
}

/// The destination ports of the attempts table, in row order (the fifth
/// cell of each row).
fn dports(dom: &str) -> Vec<u32> {
    let from = dom.find("id=\"attempts-table\"").unwrap();
    let body = &dom[from..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            let cell = row.split("<td").nth(5).expect("a fifth cell");
            let v = &cell[cell.find("data-v=\"").unwrap() + 8..];
            v[..v.find('"').unwrap()].parse().unwrap()
        })
        .collect()
}

/// Markup that runs when a page does not escape it: each sets a
/// `data-pwned` attribute on the body that the checks look for.
const PAYLOADS: [&str; 4] = [
    "<img src=x onerror=document.body.dataset.pwned=1>",
    "</textarea><script>document.body.dataset.pwned=2</script>",
    "\"'><svg onload=document.body.dataset.pwned=3>",
    "</title><img src=x onerror=document.body.dataset.pwned=4>&amp;",
];

/// A Sysmon log (winlogbeat JSON lines) whose host, image, user and parent
/// image are the payloads: a beacon of eight connections to 4444 and an
/// RDP port change.
fn hostile_sysmon() -> String {
    let guid = "{00000000-0000-0000-0000-000000000042}";
    let event = |id: u32, data: Value| {
        json!({
            "@timestamp": "2026-03-02T09:00:00.000Z",
            "winlog": {
                "channel": "Microsoft-Windows-Sysmon/Operational",
                "computer_name": PAYLOADS[0],
                "event_id": id.to_string(),
                "provider_name": "Microsoft-Windows-Sysmon",
                "event_data": data,
            }
        })
        .to_string()
    };
    let mut lines = vec![event(
        1,
        json!({
            "UtcTime": "2026-03-02 08:59:00.000",
            "ProcessGuid": guid,
            "ProcessId": "4242",
            "Image": PAYLOADS[1],
            "User": PAYLOADS[2],
            "ParentImage": PAYLOADS[3],
        }),
    )];
    for k in 0..8 {
        lines.push(event(
            3,
            json!({
                "UtcTime": format!("2026-03-02 09:{:02}:00.000", k),
                "ProcessGuid": guid,
                "ProcessId": "4242",
                "Image": PAYLOADS[1],
                "User": PAYLOADS[2],
                "Protocol": "tcp",
                "Initiated": "true",
                "SourceIp": "10.9.9.9",
                "SourcePort": (51000 + k).to_string(),
                "DestinationIp": "203.0.113.44",
                "DestinationPort": "4444",
            }),
        ));
    }
    lines.push(event(
        13,
        json!({
            "EventType": "SetValue",
            "UtcTime": "2026-03-02 09:30:00.000",
            "Image": PAYLOADS[3],
            "TargetObject": r"HKLM\System\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp\PortNumber",
            "Details": "DWORD (0x00008462)",
        }),
    ));
    lines.join("\n") + "\n"
}

/// A capture of one HTTP connection to 4444 whose URI, Host and
/// User-Agent are payloads (the URI without spaces, as a request line
/// needs).
fn hostile_capture() -> Vec<u8> {
    let c = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 7, 7, 7)), 50_505);
    let s = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 66)), 4444);
    let request = format!(
        "GET /\"><svg/onload=document.body.dataset.pwned=5> HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\n\r\n",
        PAYLOADS[0], PAYLOADS[1]
    );
    let t = |ms: i64| Ts(1_772_442_000 * Ts::NANOS_PER_SEC + ms * 1_000_000);
    let mut w = CaptureWriter::new(
        Vec::new(),
        CaptureFormat::Pcap {
            big_endian: false,
            nanos: false,
        },
        101,
    )
    .unwrap();
    w.packet(t(0), &synth::tcp_packet(c, s, 1000, TCP_SYN))
        .unwrap();
    w.packet(t(1), &synth::tcp_packet(s, c, 7000, TCP_SYN | TCP_ACK))
        .unwrap();
    w.packet(
        t(2),
        &synth::tcp_packet_with_payload(c, s, 1001, TCP_ACK, request.as_bytes()),
    )
    .unwrap();
    w.packet(
        t(3),
        &synth::tcp_packet_with_payload(s, c, 7001, TCP_ACK, b"HTTP/1.1 200 OK\r\n\r\n"),
    )
    .unwrap();
    w.finish().unwrap()
}

#[test]
fn markup_from_inputs_is_shown_as_text_and_never_runs() {
    let Some(bin) = chromium() else { return };
    let dir = scratch();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    // File names carry markup too (they are shown in the inputs table).
    std::fs::write(
        inputs.join("\"'><svg onload=document.body.dataset.pwned=6>.jsonl"),
        hostile_sysmon(),
    )
    .unwrap();
    std::fs::write(
        inputs.join("<img src=x onerror=document.body.dataset.pwned=7>.pcap"),
        hostile_capture(),
    )
    .unwrap();
    let scan = dir.path().join("scan.html");
    let conns = dir.path().join("conns.html");
    let input = inputs.to_str().unwrap();
    portent_ok(&["scan", "-q", input, "-o", scan.to_str().unwrap()]);
    portent_ok(&["conns", "-q", input, "-o", conns.to_str().unwrap()]);
    // The run found what the page is to show.
    let (recs, _) = common::jsonl(&["scan", "-q", "-f", "jsonl", input]);
    let kinds = |t: &str| recs.iter().filter(|r| r["type"] == t).count();
    assert_eq!(
        (kinds("finding"), kinds("beacon"), kinds("rdp_port")),
        (2, 1, 1),
        "{recs:?}"
    );
    assert!(recs
        .iter()
        .any(|r| r["type"] == "finding" && r["parent_image"] == PAYLOADS[3]));

    for page in [&scan, &conns] {
        let html = std::fs::read_to_string(page).unwrap();
        assert_policy(&html);
        let r = render(&bin, page, "");
        assert_inert(&r.dom);
        assert!(r.page_requests.is_empty(), "{:?}", r.page_requests);
        // Shown as text: the DOM serialises the text with < and > escaped.
        for p in [PAYLOADS[0], PAYLOADS[1], PAYLOADS[2]] {
            let text = p
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(r.dom.contains(&text), "{p} not shown as text in {page:?}");
        }
        assert!(
            r.dom
                .contains("&lt;img src=x onerror=document.body.dataset.pwned=7&gt;.pcap"),
            "the file name"
        );
    }
    let r = render(&bin, &scan, "");
    for p in PAYLOADS {
        let text = p
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(r.dom.contains(&text), "{p} not shown as text");
    }
    assert!(
        r.dom
            .contains("/\"&gt;&lt;svg/onload=document.body.dataset.pwned=5&gt;"),
        "the URI"
    );
    assert_eq!(
        tags(&r.dom)
            .iter()
            .filter(|t| t.attr("class") == Some("beacon-plot"))
            .count(),
        1
    );
    screenshot(&bin, &scan, "hostile-report.png");
}

#[test]
fn the_checks_catch_what_they_look_for() {
    let Some(bin) = chromium() else { return };
    let dir = scratch();
    // The same payloads, not escaped, under the same policy: they run.
    let csp =
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";
    let unescaped = dir.path().join("unescaped.html");
    std::fs::write(
        &unescaped,
        format!(
            "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\
             </head><body><p>{}</p><script>document.body.dataset.ready=\"1\"</script></body></html>",
            PAYLOADS[0]
        ),
    )
    .unwrap();
    let r = render(&bin, &unescaped, "");
    assert!(
        r.dom.contains("data-pwned=\"1\""),
        "the handler did not run: {}",
        r.dom
    );
    let caught = std::panic::catch_unwind(|| assert_inert(&r.dom));
    assert!(caught.is_err(), "assert_inert missed an injected element");
    // A page that loads an external image asks the network for it.
    let external = dir.path().join("external.html");
    std::fs::write(
        &external,
        "<!DOCTYPE html><html><body><img src=\"http://portent-test.invalid/x.png\"></body></html>",
    )
    .unwrap();
    let r = render(&bin, &external, "");
    assert_eq!(r.page_requests, ["http://portent-test.invalid/x.png"]);
}
