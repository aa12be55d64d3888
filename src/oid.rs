//! Content identifiers: `blake3:<64 lowercase hex>`.
//!
//! An [`Oid`] names a cache object by the BLAKE3 hash of its bytes. Parsing is strict (prefix,
//! length, lowercase hex) because oids come from pointer files and manifests, which are untrusted.

use std::fmt;
use std::str::FromStr;

pub const PREFIX: &str = "blake3:";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid([u8; 32]);

impl Oid {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Oid(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hash a byte slice (single-threaded; use [`crate::data::hash`] for files).
    pub fn of(data: &[u8]) -> Self {
        Oid(*blake3::hash(data).as_bytes())
    }

    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(DIGITS[(b >> 4) as usize] as char);
            out.push(DIGITS[(b & 15) as usize] as char);
        }
        out
    }

    /// The first 12 hex digits, for humans.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }

    /// Where this object lives under a cache or remote root: `blake3/ab/cdef...`.
    pub fn object_path(&self) -> String {
        let hex = self.hex();
        format!("blake3/{}/{}", &hex[..2], &hex[2..])
    }
}

impl From<blake3::Hash> for Oid {
    fn from(h: blake3::Hash) -> Self {
        Oid(*h.as_bytes())
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.hex())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({})", self.short())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidError {
    #[error("oid must start with `blake3:`")]
    Prefix,
    #[error("oid must have 64 hex digits after `blake3:`, found {0}")]
    Length(usize),
    #[error("oid must be lowercase hex digits")]
    Digit,
}

impl FromStr for Oid {
    type Err = OidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix(PREFIX).ok_or(OidError::Prefix)?;
        if hex.len() != 64 {
            return Err(OidError::Length(hex.len()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                _ => Err(OidError::Digit),
            };
            out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Ok(Oid(out))
    }
}

impl serde::Serialize for Oid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Oid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed() {
        let oid = Oid::of(b"hello");
        assert_eq!(oid.to_string().parse::<Oid>(), Ok(oid));
        assert_eq!(
            oid.to_string(),
            format!("blake3:{}", blake3::hash(b"hello").to_hex())
        );
        assert_eq!("sha256:00".parse::<Oid>(), Err(OidError::Prefix));
        assert_eq!("blake3:abc".parse::<Oid>(), Err(OidError::Length(3)));
        let upper = format!("blake3:{}", "A".repeat(64));
        assert_eq!(upper.parse::<Oid>(), Err(OidError::Digit));
        assert!(
            oid.object_path()
                .starts_with(&format!("blake3/{}/", &oid.hex()[..2]))
        );
    }
}
