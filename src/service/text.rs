//! Line-based protocols: SSH's banners, mail (SMTP, POP3, IMAP), FTP, IRC.
//!
//! These announce themselves in their first line, and that is all a port
//! check never reads: an SSH banner on 8000, IRC on 443, an SMTP server on a
//! port no mail goes to. SMTP and FTP both greet with `220`, so the client's
//! commands decide when there are any (EHLO is mail, FEAT or AUTH TLS is
//! FTP), then cues in the greeting, then FTP, whose bare greeting this is.
//! A client that sends STARTTLS (STLS, AUTH TLS) and then a TLS hello has
//! upgraded; the handshake is read like any other.

use serde::Serialize;

use super::{bounded, tls, upgrade_to_tls, Identified, Service, MAX_FIELD};

/// Lines read from each side. The greeting and first commands of a mail,
/// FTP or chat session, EHLO's answer with a dozen extensions included,
/// and STARTTLS's reply fit in 32; past that a session is well under way
/// and has shown what it is.
const MAX_LINES: usize = 32;

/// Longest command verb or IMAP tag looked at: IMAP's longest command
/// (AUTHENTICATE) has 12 letters, and clients' tags are short.
const MAX_TOKEN: usize = 16;

/// The SSH identification strings of both sides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SshInfo {
    /// The client's banner line (`SSH-2.0-OpenSSH_9.6`), without CR LF.
    pub client: Option<String>,
    pub server: Option<String>,
}

/// The lines of `data` (without CR LF) with the offset where each starts;
/// the last one may have no line end.
fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    let mut left = MAX_LINES;
    std::iter::from_fn(move || {
        if left == 0 || at >= data.len() {
            return None;
        }
        left -= 1;
        let start = at;
        let rest = &data[start..];
        let line = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                at = start + end + 1;
                &rest[..end]
            }
            None => {
                at = data.len();
                rest
            }
        };
        Some((start, line.strip_suffix(b"\r").unwrap_or(line)))
    })
}

/// Printable ASCII (and tab): a line a person or a text protocol wrote.
fn is_text(line: &[u8]) -> bool {
    !line.is_empty()
        && line
            .iter()
            .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// An SSH identification string: `SSH-` and a protocol version digit.
fn ssh_banner(line: &[u8]) -> bool {
    line.strip_prefix(b"SSH-")
        .and_then(|v| v.first())
        .is_some_and(u8::is_ascii_digit)
}

/// SSH: the client's first line, or the server's. RFC 4253 §4.2 lets a
/// server send other lines before its banner; those are looked through when
/// the client is an SSH client or silent, not when it spoke something else
/// (an SSH banner behind an HTTP CONNECT answer is the tunnel's, not the
/// connection's).
pub(super) fn ssh(client: &[u8], server: &[u8]) -> Option<Identified> {
    let client_banner = lines(client).next().filter(|(_, l)| ssh_banner(l));
    let server_lines = if client_banner.is_some() || client.is_empty() {
        MAX_LINES
    } else {
        1
    };
    let server_banner = lines(server)
        .take(server_lines)
        .find(|(_, l)| ssh_banner(l));
    if client_banner.is_none() && server_banner.is_none() {
        return None;
    }
    Some(Identified {
        ssh: Some(SshInfo {
            client: client_banner.map(|(_, l)| bounded(l, MAX_FIELD)),
            server: server_banner.map(|(_, l)| bounded(l, MAX_FIELD)),
        }),
        ..Identified::of(Service::Ssh)
    })
}

/// The words of a command line (at most the first four matter here).
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

fn upper_eq(word: &[u8], verb: &str) -> bool {
    word.eq_ignore_ascii_case(verb.as_bytes())
}

/// IMAP commands a client opens a session with (RFC 9051 §6) or sends
/// early; the second word of a tagged line.
const IMAP_COMMANDS: [&str; 14] = [
    "CAPABILITY",
    "LOGIN",
    "AUTHENTICATE",
    "STARTTLS",
    "NOOP",
    "LOGOUT",
    "ID",
    "SELECT",
    "EXAMINE",
    "LIST",
    "LSUB",
    "STATUS",
    "NAMESPACE",
    "ENABLE",
];

/// An IMAP tag: letters, digits and the punctuation clients use (`a001`,
/// `A1`, `1.2`), nothing IMAP forbids in one.
fn imap_tag(word: &[u8]) -> bool {
    word.len() <= MAX_TOKEN
        && word
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// What one client command line says, when it says it alone.
fn command_verdict(line: &[u8]) -> Option<Service> {
    let mut w = words(line);
    let verb = w.next()?;
    if verb.len() > MAX_TOKEN {
        return None;
    }
    let second = w.next();
    let is = |v: &str| upper_eq(verb, v);
    let mail_from = || second.is_some_and(|s| s.len() >= 5 && upper_eq(&s[..5], "FROM:"));
    if is("EHLO") || is("HELO") || (is("MAIL") && mail_from()) {
        return Some(Service::Smtp);
    }
    if is("NICK") || (is("CAP") && second.is_some_and(|s| upper_eq(s, "LS") || upper_eq(s, "REQ")))
    {
        return Some(Service::Irc);
    }
    // IRC's USER takes four parameters, the last after a colon; FTP's and
    // POP3's one.
    if is("USER") && (words(line).count() >= 5 || memchr::memmem::find(line, b" :").is_some()) {
        return Some(Service::Irc);
    }
    if is("CAPA") || is("STLS") || is("APOP") || is("UIDL") {
        return Some(Service::Pop3);
    }
    if [
        "FEAT", "SYST", "PASV", "EPSV", "OPTS", "PWD", "XPWD", "TYPE",
    ]
    .iter()
    .any(|v| is(v))
    {
        return Some(Service::Ftp);
    }
    if is("AUTH") && second.is_some_and(ftp_auth_tls) {
        return Some(Service::Ftp);
    }
    if imap_tag(verb) && second.is_some_and(|s| IMAP_COMMANDS.iter().any(|c| upper_eq(s, c))) {
        return Some(Service::Imap);
    }
    None
}

/// `AUTH TLS` and its variants (RFC 4217).
fn ftp_auth_tls(mechanism: &[u8]) -> bool {
    ["TLS", "SSL", "TLS-C", "TLS-P"]
        .iter()
        .any(|m| upper_eq(mechanism, m))
}

/// The client's first decisive command, among its first text lines. None
/// when its first line is not a command (binary, or nothing at all).
fn client_verdict(client: &[u8]) -> Option<Service> {
    lines(client)
        .take_while(|(_, l)| is_text(l))
        .find_map(|(_, l)| command_verdict(l))
}

/// Words in an SMTP greeting that FTP servers do not use.
const SMTP_CUES: [&str; 5] = ["SMTP", "POSTFIX", "SENDMAIL", "EXIM", "QMAIL"];
/// And the other way round.
const FTP_CUES: [&str; 2] = ["FTP", "FILEZILLA"];

fn mentions(line: &[u8], cues: &[&str]) -> bool {
    cues.iter().any(|c| {
        line.windows(c.len())
            .any(|w| w.eq_ignore_ascii_case(c.as_bytes()))
    })
}

/// A reply line with code `code` (`220 ` or `220-`).
fn reply(line: &[u8], code: &[u8]) -> bool {
    line.starts_with(code) && matches!(line.get(3), None | Some(b' ' | b'-'))
}

/// An IRC server line: `:server NOTICE ...`, `:server 001 ...`, or the
/// unprefixed `NOTICE AUTH ...`, `NOTICE * ...`, `PING :...` and
/// `ERROR :...` some servers open with (an error of another text protocol
/// has no colon there).
fn irc_server_line(line: &[u8]) -> bool {
    let mut w = words(line);
    let (first, second) = (w.next(), w.next());
    match (first, second) {
        (Some(prefix), Some(command)) if prefix.len() > 1 && prefix[0] == b':' => {
            upper_eq(command, "NOTICE")
                || (command.len() == 3 && command.iter().all(u8::is_ascii_digit))
        }
        (Some(first), Some(target)) if upper_eq(first, "NOTICE") => {
            upper_eq(target, "AUTH") || target == b"*"
        }
        (Some(first), Some(param)) if upper_eq(first, "PING") || upper_eq(first, "ERROR") => {
            param.len() > 1 && param[0] == b':'
        }
        _ => false,
    }
}

/// What the server's greeting says (the client had nothing decisive).
fn server_verdict(server: &[u8]) -> Option<Service> {
    let (_, greeting) = lines(server).next()?;
    if !is_text(greeting) {
        return None;
    }
    if greeting.starts_with(b"+OK") {
        return Some(Service::Pop3);
    }
    if ["* OK", "* PREAUTH", "* BYE"]
        .iter()
        .any(|g| greeting.starts_with(g.as_bytes()))
    {
        return Some(Service::Imap);
    }
    if irc_server_line(greeting) {
        return Some(Service::Irc);
    }
    if !reply(greeting, b"220") {
        return None;
    }
    // The greeting (one or more 220 lines), then later replies; text only.
    let text = || lines(server).map(|(_, l)| l).take_while(|l| is_text(l));
    let greeting = || text().take_while(|l| reply(l, b"220"));
    if greeting().any(|l| mentions(l, &SMTP_CUES)) {
        return Some(Service::Smtp);
    }
    if greeting().any(|l| mentions(l, &FTP_CUES)) {
        return Some(Service::Ftp);
    }
    // EHLO's answer is a multi-line 250; FTP does not answer that way.
    if text().any(|l| l.starts_with(b"250-")) {
        return Some(Service::Smtp);
    }
    Some(Service::Ftp)
}

/// The command that starts TLS in `service`, as a client sends it.
fn starts_tls(service: Service, line: &[u8]) -> bool {
    let mut w = words(line);
    let (first, second) = (w.next(), w.next());
    match service {
        Service::Smtp | Service::Irc => first.is_some_and(|v| upper_eq(v, "STARTTLS")),
        Service::Pop3 => first.is_some_and(|v| upper_eq(v, "STLS")),
        Service::Imap => second.is_some_and(|v| upper_eq(v, "STARTTLS")),
        Service::Ftp => {
            first.is_some_and(|v| upper_eq(v, "AUTH")) && second.is_some_and(ftp_auth_tls)
        }
        _ => false,
    }
}

/// Where TLS starts in `client`: right after its STARTTLS command.
fn client_tls_start(service: Service, client: &[u8]) -> Option<usize> {
    let mut lines = lines(client);
    lines.find(|(_, l)| starts_tls(service, l))?;
    Some(lines.next().map_or(client.len(), |(start, _)| start))
}

/// Where TLS starts in `server`: the first line that opens a handshake
/// record (the reply to STARTTLS ends the text just before it).
fn server_tls_start(server: &[u8]) -> Option<usize> {
    lines(server)
        .find(|&(start, _)| tls::handshake_record(&server[start..]).is_some())
        .map(|(start, _)| start)
}

/// SMTP, POP3, IMAP, FTP and IRC, and their upgrade to TLS.
pub(super) fn line_protocols(client: &[u8], server: &[u8]) -> Option<Identified> {
    let service = client_verdict(client).or_else(|| server_verdict(server))?;
    let id = Identified::of(service);
    let client_start = client_tls_start(service, client);
    if client_start.is_none() && !client.is_empty() {
        return Some(id);
    }
    let client_rest = client_start.map_or(&[][..], |s| &client[s..]);
    let server_rest = server_tls_start(server).map_or(&[][..], |s| &server[s..]);
    Some(upgrade_to_tls(id, client_rest, server_rest))
}

#[cfg(test)]
mod tests {
    use super::super::identify;
    use super::super::tls::tests::{browser_hello, record, server_hello};
    use super::*;

    fn service(c: &[u8], s: &[u8]) -> Option<Service> {
        identify(c, s).service
    }

    #[test]
    fn ssh_banners() {
        let id = identify(b"SSH-2.0-OpenSSH_9.6\r\n\0\0\x01", b"SSH-2.0-dropbear\r\n");
        assert_eq!(id.service, Some(Service::Ssh));
        let ssh = id.ssh.unwrap();
        assert_eq!(ssh.client.as_deref(), Some("SSH-2.0-OpenSSH_9.6"));
        assert_eq!(ssh.server.as_deref(), Some("SSH-2.0-dropbear"));
        let id = identify(b"", b"Welcome\r\nSSH-1.99-Cisco-1.25\n");
        assert_eq!(
            id.ssh.unwrap().server.as_deref(),
            Some("SSH-1.99-Cisco-1.25")
        );
        assert_eq!(service(b"SSH-x\r\n", b""), Some(Service::Unknown));
    }

    #[test]
    fn smtp_and_ftp_greetings() {
        let mail = b"220 mx.example.com ESMTP Postfix\r\n";
        assert_eq!(service(b"", mail), Some(Service::Smtp));
        assert_eq!(service(b"EHLO me\r\n", mail), Some(Service::Smtp));
        assert_eq!(service(b"HELO me\r\n", b""), Some(Service::Smtp));
        // A bare 220: the client decides, else FTP.
        assert_eq!(
            service(b"EHLO me\r\n", b"220 ready\r\n"),
            Some(Service::Smtp)
        );
        assert_eq!(
            service(b"USER anonymous\r\n", b"220 ready\r\n"),
            Some(Service::Ftp)
        );
        assert_eq!(service(b"", b"220 ready\r\n"), Some(Service::Ftp));
        assert_eq!(service(b"", b"220 (vsFTPd 3.0.3)\r\n"), Some(Service::Ftp));
        assert_eq!(service(b"FEAT\r\n", b""), Some(Service::Ftp));
        assert_eq!(
            service(b"", b"220 ready\r\n250-mx\r\n250 PIPELINING\r\n"),
            Some(Service::Smtp)
        );
    }

    #[test]
    fn pop3_imap_irc() {
        assert_eq!(service(b"", b"+OK POP3 ready\r\n"), Some(Service::Pop3));
        assert_eq!(service(b"USER bob\r\n", b"+OK\r\n"), Some(Service::Pop3));
        assert_eq!(service(b"CAPA\r\n", b""), Some(Service::Pop3));
        assert_eq!(
            service(b"", b"* OK [CAPABILITY IMAP4rev1] ready\r\n"),
            Some(Service::Imap)
        );
        assert_eq!(service(b"a001 CAPABILITY\r\n", b""), Some(Service::Imap));
        assert_eq!(
            service(b"NICK bot123\r\nUSER bot 0 * :bot\r\n", b""),
            Some(Service::Irc)
        );
        assert_eq!(
            service(b"USER bot 0 * :real name\r\n", b""),
            Some(Service::Irc)
        );
        assert_eq!(
            service(
                b"",
                b":irc.example.net NOTICE * :*** Looking up your hostname\r\n"
            ),
            Some(Service::Irc)
        );
        assert_eq!(
            service(b"", b":srv 001 bot :Welcome\r\n"),
            Some(Service::Irc)
        );
        assert_eq!(
            service(b"", b"NOTICE AUTH :*** hello\r\n"),
            Some(Service::Irc)
        );
        // A client alone with an ambiguous USER says nothing.
        assert_eq!(service(b"USER bob\r\n", b""), Some(Service::Unknown));
    }

    fn hellos() -> (Vec<u8>, Vec<u8>) {
        (
            record(1, &browser_hello()),
            record(2, &server_hello(0x0303, 0xc02f, &[])),
        )
    }

    #[test]
    fn smtp_starttls() {
        let (ch, sh) = hellos();
        let mut client = b"EHLO me\r\nSTARTTLS\r\n".to_vec();
        client.extend_from_slice(&ch);
        let mut server =
            b"220 mx ESMTP\r\n250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n220 2.0.0 Ready to start TLS\r\n"
                .to_vec();
        server.extend_from_slice(&sh);
        let id = identify(&client, &server);
        assert_eq!(id.service, Some(Service::Smtp));
        assert_eq!(id.upgraded_to, Some(Service::Tls));
        let tls = id.tls.unwrap();
        assert_eq!(tls.sni.as_deref(), Some("example.com"));
        assert_eq!(tls.version.as_deref(), Some("TLSv1.2"));
        assert!(tls.ja3s.is_some());

        // Refused: no upgrade.
        let id = identify(
            b"EHLO me\r\nSTARTTLS\r\n",
            b"220 mx ESMTP\r\n454 TLS not available\r\n",
        );
        assert_eq!((id.service, id.upgraded_to), (Some(Service::Smtp), None));
        // Server side only.
        let id = identify(b"", &server);
        assert_eq!(
            (id.service, id.upgraded_to),
            (Some(Service::Smtp), Some(Service::Tls))
        );
    }

    #[test]
    fn other_upgrades() {
        let (ch, sh) = hellos();
        for (service, command, greeting) in [
            (Service::Pop3, &b"STLS\r\n"[..], &b"+OK ready\r\n"[..]),
            (Service::Imap, b"a1 STARTTLS\r\n", b"* OK ready\r\n"),
            (Service::Ftp, b"AUTH TLS\r\n", b"220 FTP ready\r\n"),
        ] {
            let mut client = command.to_vec();
            client.extend_from_slice(&ch);
            let mut server = greeting.to_vec();
            server.extend_from_slice(b"OK begin\r\n");
            server.extend_from_slice(&sh);
            let id = identify(&client, &server);
            assert_eq!(id.service, Some(service));
            assert_eq!(id.upgraded_to, Some(Service::Tls), "{service:?}");
        }
    }
}
