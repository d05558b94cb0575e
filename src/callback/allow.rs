//! `[callback] allow`: which `callbackUrl`s the worker may POST to.
//!
//! An entry is `SCHEME://HOST[:PORT]/PATH-PREFIX`. `HOST` is a name (`hooks.example.nl`), a
//! wildcard over the subdomains of a name (`*.example.nl`: `a.example.nl`, `a.b.example.nl`, not
//! `example.nl` itself) or an IP address (`127.0.0.1`, `[::1]`). Without a port only the scheme's
//! default port matches. A URL matches when its scheme, host and port match and its path starts
//! with the entry's path.
//!
//! A name (exact or wildcard) reaches public addresses only: when it resolves to a private,
//! loopback, link-local or otherwise non-public address, the callback is refused. Such addresses
//! need an entry with the address itself (`http://10.1.2.3:8080/hooks/`). The addresses are
//! checked again when the connection is made, so a name cannot change its answer between the check
//! and the POST.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bptl_credentials::reqwest::Url;

/// One `[callback] allow` entry, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    text: String,
    scheme: String,
    host: HostPattern,
    port: u16,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// A host name, lower case.
    Name(String),
    /// `*.SUFFIX`: the subdomains of the suffix (stored with its leading dot).
    Subdomains(String),
    /// An IP address: the one entry kind that allows non-public addresses.
    Ip(IpAddr),
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AllowEntry {
    /// Parse an entry such as `https://*.example.nl/hooks/`; the error says what is wrong.
    ///
    /// ```
    /// use bptl::callback::AllowEntry;
    /// assert!(AllowEntry::parse("https://*.example.nl/hooks/").is_ok());
    /// assert!(AllowEntry::parse("http://127.0.0.1:8080/").is_ok());
    /// let wrong = AllowEntry::parse("https://hooks.*.nl/").unwrap_err();
    /// assert!(wrong.contains("'*' is only allowed"), "{wrong}");
    /// ```
    pub fn parse(text: &str) -> Result<AllowEntry, String> {
        let text = text.trim();
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "'{text}' is not SCHEME://HOST/PATH: write e.g. \"https://*.example.nl/hooks/\""
            ));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!(
                "'{text}': the scheme must be https or http, not '{scheme}'"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err(format!("'{text}': an entry has no user name or password"));
        }
        if path.contains(['?', '#']) {
            return Err(format!(
                "'{text}': an entry is a path prefix, without a query or fragment"
            ));
        }
        // Let the URL parser normalise the host (case, IDNA, IP forms), the port and the path,
        // with a placeholder for a wildcard.
        let (wildcard, parsed_authority) = match authority.strip_prefix("*.") {
            Some(suffix) => (true, format!("wildcard.{suffix}")),
            None => (false, authority.to_owned()),
        };
        if parsed_authority.contains('*') {
            return Err(format!(
                "'{text}': '*' is only allowed as the first label of the host, as in *.example.nl"
            ));
        }
        let url = Url::parse(&format!("{scheme}://{parsed_authority}{path}"))
            .map_err(|e| format!("'{text}' is not a valid URL prefix ({e})"))?;
        let host = match url.host() {
            Some(url::Host::Domain(name)) if wildcard => {
                let suffix = &name["wildcard".len()..];
                if suffix.matches('.').count() < 2 {
                    return Err(format!(
                        "'{text}': a wildcard needs a domain of at least two labels, as in *.example.nl"
                    ));
                }
                HostPattern::Subdomains(suffix.to_owned())
            }
            Some(url::Host::Domain(name)) => HostPattern::Name(name.to_owned()),
            Some(url::Host::Ipv4(ip)) if !wildcard => HostPattern::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) if !wildcard => HostPattern::Ip(IpAddr::V6(ip)),
            _ => {
                return Err(format!(
                    "'{text}': not a host name, *.DOMAIN or an IP address"
                ));
            }
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("'{text}': no port"))?;
        Ok(AllowEntry {
            text: text.to_owned(),
            scheme,
            host,
            port,
            path: url.path().to_owned(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        if url.scheme() != self.scheme || url.port_or_known_default() != Some(self.port) {
            return false;
        }
        let host = match (&self.host, url.host()) {
            (HostPattern::Name(name), Some(url::Host::Domain(host))) => host == name,
            (HostPattern::Subdomains(suffix), Some(url::Host::Domain(host))) => {
                host.len() > suffix.len() && host.ends_with(suffix.as_str())
            }
            (HostPattern::Ip(ip), Some(url::Host::Ipv4(host))) => *ip == IpAddr::V4(host),
            (HostPattern::Ip(ip), Some(url::Host::Ipv6(host))) => *ip == IpAddr::V6(host),
            _ => false,
        };
        host && url.path().starts_with(&self.path)
    }
}

/// The parsed `[callback] allow` list. Empty (the default) refuses every callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackAllowlist {
    entries: Vec<AllowEntry>,
}

impl CallbackAllowlist {
    /// Parse every entry; the errors are `(index, message)` for each bad one.
    ///
    /// ```
    /// use bptl::callback::CallbackAllowlist;
    /// let allow = CallbackAllowlist::new(["https://*.example.nl/hooks/"]).unwrap();
    /// assert!(allow.matching("https://zaken.example.nl/hooks/done?x=1").is_ok());
    /// assert!(allow.matching("https://zaken.example.nl/admin").is_err());
    /// assert!(allow.matching("http://zaken.example.nl/hooks/").is_err());
    /// ```
    pub fn new<I>(entries: I) -> Result<Self, Vec<(usize, String)>>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut parsed = Vec::new();
        let mut problems = Vec::new();
        for (i, text) in entries.into_iter().enumerate() {
            match AllowEntry::parse(text.as_ref()) {
                Ok(entry) => parsed.push(entry),
                Err(message) => problems.push((i, message)),
            }
        }
        if problems.is_empty() {
            Ok(Self { entries: parsed })
        } else {
            Err(problems)
        }
    }

    /// The entries.
    pub fn entries(&self) -> &[AllowEntry] {
        &self.entries
    }

    /// The entry `url` matches, or why none does (the reason names no query: it may hold
    /// secrets).
    pub fn matching(&self, url: &str) -> Result<&AllowEntry, String> {
        let parsed = Url::parse(url.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if self.entries.is_empty() {
            return Err("[callback] allow is empty: no callback URL is allowed".to_owned());
        }
        self.entries
            .iter()
            .find(|e| e.matches(&parsed))
            .ok_or_else(|| {
                format!(
                    "{}://{}{} matches no entry of [callback] allow",
                    parsed.scheme(),
                    parsed
                        .host_str()
                        .map(|h| match parsed.port() {
                            Some(port) => format!("{h}:{port}"),
                            None => h.to_owned(),
                        })
                        .unwrap_or_default(),
                    parsed.path()
                )
            })
    }

    /// Whether the worker may POST to `url`: it matches an entry and, for a host name, every
    /// address the name resolves to is public.
    pub async fn check(&self, url: &str) -> Result<(), String> {
        let entry = self.matching(url)?;
        if matches!(entry.host, HostPattern::Ip(_)) {
            return Ok(());
        }
        let parsed = Url::parse(url.trim()).map_err(|e| format!("not a URL ({e})"))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let port = parsed.port_or_known_default().unwrap_or(entry.port);
        resolve_public(&host, port).await.map(|_| ())
    }
}

/// The addresses of `host`, all public, or why not.
pub(super) async fn resolve_public(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} resolves to {} ({}); a host name reaches public addresses only: \
             allow the address itself in [callback] allow to call it",
            bad.ip(),
            kind(bad.ip())
        ));
    }
    Ok(addrs)
}

/// Whether an address is public: not loopback, private, link-local, shared (CGNAT),
/// unspecified, broadcast, multicast, documentation or unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    kind(ip) == "public"
}

fn kind(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => kind_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => kind_v4(v4),
            None => kind_v6(v6),
        },
    }
}

fn kind_v4(ip: Ipv4Addr) -> &'static str {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (64..128).contains(&b) {
        "shared address space"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        "broadcast, multicast or reserved"
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        "documentation or benchmarking"
    } else {
        "public"
    }
}

fn kind_v6(ip: Ipv6Addr) -> &'static str {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if first & 0xfe00 == 0xfc00 {
        "unique local (private)"
    } else if ip.is_multicast() {
        "multicast"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        "documentation"
    } else {
        "public"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn allow(entries: &[&str]) -> CallbackAllowlist {
        CallbackAllowlist::new(entries).unwrap()
    }

    #[test]
    fn scheme_host_port_and_path_prefix() {
        let list = allow(&["https://*.example.nl/hooks/", "http://10.1.2.3:8080/cb"]);
        for ok in [
            "https://a.example.nl/hooks/x",
            "https://a.b.EXAMPLE.nl/hooks/",
            "https://a.example.nl:443/hooks/x?token=1",
            "http://10.1.2.3:8080/cb/done",
            "http://10.1.2.3:8080/cb",
        ] {
            assert!(list.matching(ok).is_ok(), "{ok}");
        }
        for refused in [
            "https://example.nl/hooks/x",          // the wildcard needs a subdomain
            "https://a.example.nl.evil.io/hooks/", // a suffix is not a subdomain
            "https://aexample.nl/hooks/",
            "http://a.example.nl/hooks/x",      // scheme
            "https://a.example.nl:8443/hooks/", // port
            "https://a.example.nl/hook",        // path prefix
            "https://a.example.nl/hooks/../admin",
            "https://a.example.nl/hooks/%2e%2e/admin",
            "http://10.1.2.3/cb",
            "http://10.1.2.4:8080/cb",
            "not a url",
        ] {
            assert!(list.matching(refused).is_err(), "{refused}");
        }
        let reason = list
            .matching("https://a.example.nl/x?token=s3cret")
            .unwrap_err();
        assert!(reason.contains("matches no entry"), "{reason}");
        assert!(!reason.contains("s3cret"), "{reason}");
        let empty = CallbackAllowlist::default()
            .matching("https://a.example.nl/")
            .unwrap_err();
        assert!(empty.contains("[callback] allow is empty"), "{empty}");
    }

    #[test]
    fn bad_entries_say_why() {
        let problems = CallbackAllowlist::new([
            "example.nl/hooks",
            "ftp://example.nl/",
            "https://user:pw@example.nl/",
            "https://*.nl/",
            "https://a.*.nl/",
            "https://*.10.0.0.1/",
            "https://example.nl/hooks?x=1",
            "https://*.example.nl/ok",
        ])
        .unwrap_err();
        let indexes: Vec<usize> = problems.iter().map(|(i, _)| *i).collect();
        assert_eq!(indexes, [0, 1, 2, 3, 4, 5, 6]);
        assert!(problems[0].1.contains("SCHEME://HOST/PATH"), "{problems:?}");
        assert!(problems[1].1.contains("https or http"), "{problems:?}");
        assert!(
            problems[3].1.contains("at least two labels"),
            "{problems:?}"
        );
    }

    #[test]
    fn address_kinds() {
        for (ip, public) in [
            ("127.0.0.1", false),
            ("10.0.0.1", false),
            ("172.16.5.1", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("::1", false),
            ("fe80::1", false),
            ("fd00::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("8.8.8.8", true),
            ("145.21.1.1", true),
            ("2a00:1450::1", true),
        ] {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let list = allow(&[
            "http://localhost:8080/hooks/",
            "http://127.0.0.1:8080/hooks/",
        ]);
        let reason = list
            .check("http://localhost:8080/hooks/x")
            .await
            .unwrap_err();
        assert!(
            reason.contains("resolves to 127.0.0.1 (loopback)"),
            "{reason}"
        );
        list.check("http://127.0.0.1:8080/hooks/x").await.unwrap();
    }
}
