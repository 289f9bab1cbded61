//! HTTP/1.x: the request line and the headers a report needs, the status
//! of the answer, and CONNECT tunnels.
//!
//! Plain HTTP on an odd port is the commonest C2 transport after TLS, and its
//! request says a lot about the client (a User-Agent no browser sends, a URI
//! that looks like a beacon). A CONNECT that the far end accepted is a
//! proxy tunnel: what flows inside it is identified too and reported as
//! `upgraded_to`, so a proxy on 3128 carrying TLS is not a mismatch.

use serde::Serialize;

use super::{bounded, tunnel, Identified, Nesting, Service, MAX_FIELD};

/// Header lines read from one message. Servers refuse more than about a
/// hundred (Apache's LimitRequestFields default is 100), so a message with
/// more is not one a report needs to read on.
const MAX_HEADERS: usize = 100;

/// Request methods of HTTP/1.1 (RFC 9110) and WebDAV (RFC 4918), the ones a
/// client actually sends; anything else on a request line is not HTTP here.
const METHODS: [&[u8]; 17] = [
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
];

/// What the first HTTP request and response say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HttpInfo {
    pub method: Option<String>,
    /// The Host header.
    pub host: Option<String>,
    /// The request target, as sent.
    pub uri: Option<String>,
    pub user_agent: Option<String>,
    /// The status code of the first response.
    pub status: Option<u16>,
}

/// One line of `data` starting at `at`: the line without CR LF, and where
/// the next one starts; None when no line end is in `data`.
fn line_at(data: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rest = data.get(at..)?;
    let end = memchr::memchr(b'\n', rest)?;
    let line = &rest[..end];
    Some((line.strip_suffix(b"\r").unwrap_or(line), at + end + 1))
}

/// A request line: method, target, and `HTTP/1.x`. A line cut by the byte
/// bound before its version counts when its method and target look right.
fn request_line(data: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    // A method first (after blanks a padded line may start with), before
    // the line is looked for: most streams this sees are not HTTP, and a
    // binary one can go kilobytes without a line end.
    let start = data.iter().position(|&b| b != b' ' && b != b'\t')?;
    if !METHODS.iter().any(|m| data[start..].starts_with(m)) {
        return None;
    }
    let (line, next, complete) = match line_at(data, 0) {
        Some((line, next)) => (line, next, true),
        // No line end at all: a request line longer than what was kept.
        None if data.len() >= MAX_FIELD => (data, data.len(), false),
        None => return None,
    };
    // Words separated by runs of blanks, as RFC 9112 §3 lets a recipient
    // parse (clients and tools that pad the line still speak HTTP).
    let mut parts = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty());
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next();
    if !METHODS.contains(&method) || parts.next().is_some() {
        return None;
    }
    let version_ok = match version {
        Some(v) if complete => v.len() == 8 && v.starts_with(b"HTTP/1.") && v[7].is_ascii_digit(),
        // Cut inside the version.
        Some(v) => v.len() < 8 && b"HTTP/1.".starts_with(&v[..v.len().min(7)]),
        // Cut inside the target.
        None => !complete && matches!(target[0], b'/' | b'h'),
    };
    version_ok.then_some((method, target, next))
}

/// A status line: `HTTP/1.x NNN`, and where the headers start.
fn status_line(data: &[u8]) -> Option<(u16, usize)> {
    let (line, next) = line_at(data, 0).unwrap_or((data, data.len()));
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let code = rest.strip_prefix(b" ")?.get(..3)?;
    if !minor.is_ascii_digit() || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest.get(4).is_some_and(|&b| b != b' ') {
        return None;
    }
    let code = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    Some((code, next))
}

/// Walks the header lines from `at`: calls `f(name, value)` for each, and
/// returns where the body starts when the empty line that ends them is
/// there.
fn headers<'a>(
    data: &'a [u8],
    mut at: usize,
    mut f: impl FnMut(&'a [u8], &'a [u8]),
) -> Option<usize> {
    for _ in 0..MAX_HEADERS {
        let (line, next) = line_at(data, at)?;
        if line.is_empty() {
            return Some(next);
        }
        if let Some(colon) = memchr::memchr(b':', line) {
            f(&line[..colon], line[colon + 1..].trim_ascii());
        }
        at = next;
    }
    None
}

/// Where the headers of the HTTP message that opens `data` end, when that
/// is all [`detect`] reads of it: a request other than CONNECT, or a
/// response to one (`peer`: the request's side). After an accepted CONNECT
/// the tunnel follows, so a CONNECT and its answer are read whole.
pub(super) fn header_end(data: &[u8], peer: Option<&[u8]>) -> Option<usize> {
    // A first look at a few bytes: this runs on every connection's
    // stream, most of which are not HTTP.
    let next = match peer {
        None => {
            let method = METHODS.iter().find(|m| data.starts_with(m))?;
            if *method == b"CONNECT" || !matches!(data.get(method.len()), Some(b' ' | b'\t')) {
                return None;
            }
            request_line(data)?.2
        }
        Some(request) => {
            if !data.starts_with(b"HTTP/1.") || request.starts_with(b"CONNECT") {
                return None;
            }
            status_line(data)?.1
        }
    };
    headers(data, next, |_, _| {})
}

/// HTTP from either side, and what a CONNECT tunnel carries.
pub(super) fn detect(client: &[u8], server: &[u8], nesting: Nesting) -> Option<Identified> {
    let request = request_line(client);
    let response = status_line(server);
    if request.is_none() && response.is_none() {
        return None;
    }
    let mut info = HttpInfo::default();
    let mut body_start = None;
    if let Some((method, target, next)) = request {
        info.method = Some(bounded(method, MAX_FIELD));
        info.uri = Some(bounded(target, MAX_FIELD));
        body_start = headers(client, next, |name, value| {
            if name.eq_ignore_ascii_case(b"host") && info.host.is_none() {
                info.host = Some(bounded(value, MAX_FIELD));
            } else if name.eq_ignore_ascii_case(b"user-agent") && info.user_agent.is_none() {
                info.user_agent = Some(bounded(value, MAX_FIELD));
            }
        });
    }
    let mut id = Identified::of(Service::Http);
    if let Some((status, next)) = response {
        info.status = Some(status);
        let connect = request.is_some_and(|(m, _, _)| m == b"CONNECT");
        if connect && (200..300).contains(&status) && nesting == Nesting::Outer {
            let server_body = headers(server, next, |_, _| {});
            if let (Some(c), Some(s)) = (body_start, server_body) {
                if let Some(inner) = tunnel(&client[c..], &server[s..]) {
                    id.upgraded_to = inner.service;
                    id.tls = inner.tls;
                    id.ssh = inner.ssh;
                }
            }
        }
    }
    id.http = Some(info);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::super::identify;
    use super::*;

    #[test]
    fn request_and_response() {
        let id = identify(
            b"GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nServer: x\r\n\r\n",
        );
        assert_eq!(id.service, Some(Service::Http));
        let http = id.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!(http.uri.as_deref(), Some("/a?b=1"));
        assert_eq!(http.host.as_deref(), Some("example.com"));
        assert_eq!(http.user_agent.as_deref(), Some("curl/8.0"));
        assert_eq!(http.status, Some(404));
        assert_eq!(id.upgraded_to, None);
    }

    #[test]
    fn padded_request_line() {
        let id = identify(b"GET    /x  HTTP/1.1\r\nhOsT:a.lan:8080\r\n\r\n", b"");
        let http = id.http.unwrap();
        assert_eq!(http.uri.as_deref(), Some("/x"));
        assert_eq!(http.host.as_deref(), Some("a.lan:8080"));
    }

    #[test]
    fn one_side_only() {
        let id = identify(b"", b"HTTP/1.0 200 OK\r\n");
        assert_eq!(id.service, Some(Service::Http));
        assert_eq!(id.http.unwrap().status, Some(200));
        let id = identify(b"POST /gate.php HTTP/1.0\n\n", b"");
        assert_eq!(id.http.unwrap().method.as_deref(), Some("POST"));
    }

    #[test]
    fn lookalikes_are_not_http() {
        for c in [
            &b"OPTIONS sip:a@b SIP/2.0\r\n"[..],
            b"DESCRIBE rtsp://x/ RTSP/1.0\r\n",
            b"GET / HTTP/2.0\r\n",
            b"FETCH / HTTP/1.1\r\n",
            b"GET\r\n",
            b"GET / HTTP/1.1 x\r\n",
        ] {
            assert_eq!(detect(c, b"", Nesting::Outer), None, "{c:?}");
        }
        assert_eq!(detect(b"", b"HTTP/1.1 20x\r\n", Nesting::Outer), None);
        assert_eq!(detect(b"", b"RTSP/1.0 200 OK\r\n", Nesting::Outer), None);
    }

    #[test]
    fn long_uri_cut_by_the_bound() {
        let mut c = b"GET /".to_vec();
        c.extend(std::iter::repeat_n(b'a', 4000));
        let id = identify(&c, b"");
        assert_eq!(id.service, Some(Service::Http));
        assert_eq!(id.http.unwrap().uri.unwrap().len(), MAX_FIELD);
    }

    #[test]
    fn connect_tunnel_carrying_tls() {
        let hello = super::super::tls::tests::record(1, &super::super::tls::tests::browser_hello());
        let mut client =
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec();
        client.extend_from_slice(&hello);
        let server = b"HTTP/1.1 200 Connection established\r\n\r\n";
        let id = identify(&client, server);
        assert_eq!(id.service, Some(Service::Http));
        assert_eq!(id.upgraded_to, Some(Service::Tls));
        assert_eq!(id.tls.unwrap().sni.as_deref(), Some("example.com"));
        let http = id.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("CONNECT"));
        assert_eq!(http.uri.as_deref(), Some("example.com:443"));
        assert_eq!(http.status, Some(200));

        // Refused: no tunnel, whatever the client sent after.
        let id = identify(
            &client,
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
        );
        assert_eq!((id.service, id.upgraded_to), (Some(Service::Http), None));
        // Accepted but unused: no tunnel either.
        let id = identify(b"CONNECT a:22 HTTP/1.1\r\n\r\n", server);
        assert_eq!(id.upgraded_to, None);
        // Something unknown inside.
        let mut c = b"CONNECT a:9 HTTP/1.1\r\n\r\n".to_vec();
        c.extend_from_slice(&[0x9c; 40]);
        let id = identify(&c, server);
        assert_eq!(id.upgraded_to, Some(Service::Unknown));
    }
}
