//! RFC 3161 time stamps of checkpoints: the request, the reply, and the few fields of the
//! token that `audit verify` reads back.
//!
//! The DER is built and read by hand: a request is five fixed fields, and reading a token
//! only walks down to its `TSTInfo` (message imprint, time, nonce). The token's signature is
//! the authority's; `openssl ts -verify` checks it against the authority's certificate
//! (docs/operations.md).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use sha2::{Digest, Sha256};

/// SHA-256's object identifier, 2.16.840.1.101.3.4.2.1, as DER.
const SHA256_OID: &[u8] = &[
    0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
];

/// How long a time-stamping authority may take: a filing may wait on it.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error("time-stamping authority URL `{0}`: use http://HOST[:PORT]/PATH")]
    Url(String),
    #[error("time-stamping authority unreachable: {0}")]
    Unreachable(String),
    #[error("time-stamping authority answered HTTP {0}")]
    Status(u16),
    #[error("time-stamping authority refused the request (PKIStatus {0})")]
    Refused(i64),
    #[error("time-stamping authority's reply is not a time stamp: {0}")]
    Malformed(&'static str),
}

/// What a token says about what it stamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// The SHA-256 the authority stamped.
    pub imprint: [u8; 32],
    /// Its `genTime` (GeneralizedTime, e.g. `20261204194800Z`).
    pub time: String,
    pub nonce: Option<Vec<u8>>,
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A TimeStampReq for the SHA-256 of `message`, asking for the authority's certificate.
pub fn request(message: &[u8], nonce: &[u8; 8]) -> Vec<u8> {
    let algorithm = tlv(0x30, &[SHA256_OID, &[0x05, 0x00]].concat());
    let imprint = tlv(
        0x30,
        &[algorithm, tlv(0x04, &Sha256::digest(message))].concat(),
    );
    // A positive INTEGER: a leading zero when the high bit is set.
    let mut n = Vec::with_capacity(9);
    if nonce[0] & 0x80 != 0 {
        n.push(0);
    }
    n.extend_from_slice(nonce);
    let body = [
        tlv(0x02, &[1]),
        imprint,
        tlv(0x02, &n),
        vec![0x01, 0x01, 0xff],
    ]
    .concat();
    tlv(0x30, &body)
}

/// One DER element: (tag, content, the rest after it).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let k = (first & 0x7f) as usize;
        if k == 0 || k > 4 || rest.len() < k {
            return None;
        }
        let len = rest[..k].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
        (len, &rest[k..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The content of the element of `tag` at the start of `der`.
fn expect<'a>(
    der: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), TsaError> {
    match element(der) {
        Some((t, content, rest)) if t == tag => Ok((content, rest)),
        _ => Err(TsaError::Malformed(what)),
    }
}

/// The token of a TimeStampResp, if the authority granted it.
pub fn token_of(reply: &[u8]) -> Result<Vec<u8>, TsaError> {
    let (resp, _) = expect(reply, 0x30, "TimeStampResp")?;
    let (status, rest) = expect(resp, 0x30, "PKIStatusInfo")?;
    let (code, _) = expect(status, 0x02, "PKIStatus")?;
    let code = code.iter().fold(0i64, |a, b| (a << 8) | *b as i64);
    // 0 granted, 1 granted with modifications.
    if code > 1 {
        return Err(TsaError::Refused(code));
    }
    let Some((0x30, _, after)) = element(rest) else {
        return Err(TsaError::Malformed("timeStampToken"));
    };
    Ok(rest[..rest.len() - after.len()].to_vec())
}

/// Reads what a token stamped: ContentInfo → SignedData → encapContentInfo → TSTInfo.
pub fn stamped(token: &[u8]) -> Result<Stamped, TsaError> {
    let (info, _) = expect(token, 0x30, "ContentInfo")?;
    let (_, rest) = expect(info, 0x06, "contentType")?;
    let (explicit, _) = expect(rest, 0xa0, "content")?;
    let (signed, _) = expect(explicit, 0x30, "SignedData")?;
    let (_, rest) = expect(signed, 0x02, "version")?;
    let (_, rest) = expect(rest, 0x31, "digestAlgorithms")?;
    let (encap, _) = expect(rest, 0x30, "encapContentInfo")?;
    let (_, rest) = expect(encap, 0x06, "eContentType")?;
    let (explicit, _) = expect(rest, 0xa0, "eContent")?;
    let (tst, _) = expect(explicit, 0x04, "eContent")?;
    let (tst, _) = expect(tst, 0x30, "TSTInfo")?;
    let (_, rest) = expect(tst, 0x02, "TSTInfo version")?;
    let (_, rest) = expect(rest, 0x06, "policy")?;
    let (imprint, rest) = expect(rest, 0x30, "messageImprint")?;
    let (algorithm, hashed) = expect(imprint, 0x30, "hashAlgorithm")?;
    if !algorithm.starts_with(SHA256_OID) {
        return Err(TsaError::Malformed("a message imprint other than SHA-256"));
    }
    let (hashed, _) = expect(hashed, 0x04, "hashedMessage")?;
    let imprint: [u8; 32] = hashed
        .try_into()
        .map_err(|_| TsaError::Malformed("hashedMessage"))?;
    let (_, rest) = expect(rest, 0x02, "serialNumber")?;
    let (time, mut rest) = expect(rest, 0x18, "genTime")?;
    // Then accuracy (SEQUENCE) and ordering (BOOLEAN), both optional, before the nonce.
    let mut nonce = None;
    while let Some((tag, content, after)) = element(rest) {
        if tag == 0x02 {
            nonce = Some(content.to_vec());
            break;
        }
        rest = after;
    }
    Ok(Stamped {
        imprint,
        time: String::from_utf8_lossy(time).into_owned(),
        nonce,
    })
}

/// Asks the authority at `url` (http) to stamp `message`; the token, checked to stamp it.
pub async fn stamp(url: &str, message: &[u8]) -> Result<Vec<u8>, TsaError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| TsaError::Unreachable(e.to_string()))?;
    let body = request(message, &nonce);
    let reply = tokio::time::timeout(TIMEOUT, post(url, body))
        .await
        .map_err(|_| TsaError::Unreachable(format!("no answer within {TIMEOUT:?}")))??;
    let token = token_of(&reply)?;
    let s = stamped(&token)?;
    let sent = n_bytes(&nonce);
    if s.imprint[..] != Sha256::digest(message)[..] || s.nonce.as_deref().map(n_bytes) != Some(sent)
    {
        return Err(TsaError::Malformed("a token for another request"));
    }
    Ok(token)
}

/// An INTEGER's bytes without leading zeros, to compare nonces.
fn n_bytes(b: &[u8]) -> Vec<u8> {
    b.iter().copied().skip_while(|x| *x == 0).collect()
}

async fn post(url: &str, body: Vec<u8>) -> Result<Vec<u8>, TsaError> {
    let parsed = url::Url::parse(url).map_err(|_| TsaError::Url(url.into()))?;
    let host = parsed
        .host_str()
        .filter(|_| parsed.scheme() == "http")
        .ok_or_else(|| TsaError::Url(url.into()))?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let unreachable = |e: &dyn std::fmt::Display| TsaError::Unreachable(e.to_string());
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| unreachable(&e))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
    tokio::spawn(conn);
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONTENT_TYPE, "application/timestamp-query")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| unreachable(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| unreachable(&e))?;
    if !response.status().is_success() {
        return Err(TsaError::Status(response.status().as_u16()));
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| unreachable(&e))?
        .to_bytes();
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_element_is_read_back() {
        let content = vec![7u8; 300];
        let der = tlv(0x04, &content);
        assert_eq!(&der[..4], &[0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(element(&der), Some((0x04, &content[..], &[][..])));
    }

    #[test]
    fn a_request_is_a_sequence_of_the_imprint_and_nonce() {
        let der = request(b"x", &[0x80, 0, 0, 0, 0, 0, 0, 1]);
        let (body, rest) = expect(&der, 0x30, "req").unwrap();
        assert!(rest.is_empty());
        let (_, rest) = expect(body, 0x02, "version").unwrap();
        let (_, rest) = expect(rest, 0x30, "imprint").unwrap();
        let (nonce, rest) = expect(rest, 0x02, "nonce").unwrap();
        assert_eq!(nonce, &[0, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(rest, &[0x01, 0x01, 0xff]);
    }
}
