//! The server certificate of a TLS 1.2 (or older) handshake.
//!
//! C2 frameworks and RATs ship default certificates (a fixed subject, a
//! self-signed one valid for decades), and those are indicators a policy can
//! name; an IP-only, self-signed handshake on an odd port is worth a second
//! look on its own. This reads the subject, issuer and validity with
//! x509-parser and fingerprints the DER.

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::time::ASN1Time;

use super::{bounded, hex};

/// Longest subject or issuer kept: a distinguished name of a real
/// certificate is well under this (C, ST, L, O, OU, CN), and a name padded
/// past it says what it needs to in its first 512 bytes.
const MAX_NAME: usize = 512;

/// A server certificate, as a report shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// The subject's distinguished name, `C=US, O=..., CN=...`.
    pub subject: String,
    pub issuer: String,
    /// Validity, RFC 3339 UTC (`2020-03-16T01:17:28Z`).
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Issued by itself: the same name as subject and issuer, and no
    /// authority key identifier that differs from its own subject key
    /// identifier. (The signature is not verified: that needs a crypto
    /// library for every key type a certificate may carry.)
    pub self_signed: bool,
}

/// What a DER certificate says, or None when it does not parse.
pub(super) fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let validity = cert.validity();
    Some(CertInfo {
        subject: name(cert.subject()),
        issuer: name(cert.issuer()),
        not_before: rfc3339(&validity.not_before),
        not_after: rfc3339(&validity.not_after),
        sha256: hex(&Sha256::digest(der)),
        self_signed: self_signed(&cert),
    })
}

fn name(n: &X509Name<'_>) -> String {
    bounded(n.to_string().as_bytes(), MAX_NAME)
}

fn rfc3339(t: &ASN1Time) -> String {
    let t = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn self_signed(cert: &X509Certificate<'_>) -> bool {
    let (subject, issuer) = (cert.subject(), cert.issuer());
    if subject.as_raw() != issuer.as_raw() && subject.to_string() != issuer.to_string() {
        return false;
    }
    let mut aki = None;
    let mut ski = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0);
            }
            ParsedExtension::SubjectKeyIdentifier(k) => ski = Some(k.0),
            _ => {}
        }
    }
    match (aki, ski) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two certificates made with openssl for this test: a CA named
    /// `CN=Same Name`, self-signed, and a leaf with the same name that the
    /// CA signed (its authority key identifier is the CA's, not its own).
    const CA: &[u8] = include_bytes!("../../tests/data/service/same-name-ca.der");
    const LEAF: &[u8] = include_bytes!("../../tests/data/service/same-name-leaf.der");

    #[test]
    fn self_signed_or_same_name() {
        let ca = cert_info(CA).unwrap();
        assert_eq!(ca.subject, "CN=Same Name");
        assert_eq!(ca.issuer, "CN=Same Name");
        assert!(ca.self_signed);
        assert_eq!(ca.sha256, hex(&Sha256::digest(CA)));
        assert_eq!(ca.not_before.len(), "2026-12-02T05:49:27Z".len());
        assert!(ca.not_before.ends_with('Z') && ca.not_before < ca.not_after);
        let leaf = cert_info(LEAF).unwrap();
        assert_eq!(
            (leaf.subject.as_str(), leaf.issuer.as_str()),
            ("CN=Same Name", "CN=Same Name")
        );
        assert!(!leaf.self_signed);
        // A certificate cut short does not parse.
        assert_eq!(cert_info(&CA[..CA.len() - 1]), None);
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(cert_info(b""), None);
        assert_eq!(cert_info(&[0x30, 0x82, 0xff, 0xff, 0x30]), None);
    }
}
