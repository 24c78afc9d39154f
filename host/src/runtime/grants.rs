//! Capabilities are granted on both sides: the plugin declares what it needs in its
//! manifest, the operator grants at install; the host enforces the intersection.

use super::limits::LimitOverrides;
use super::manifest::Manifest;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// What the operator granted a plugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Grants {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub storage_quota: u64,
    #[serde(default)]
    pub limits: LimitOverrides,
}

impl Grants {
    /// Grants exactly what the manifest requests (the operator's explicit "grant what it
    /// asks for", also used for the bundled first-party plugins).
    pub fn requested(manifest: &Manifest) -> Grants {
        Grants {
            hosts: manifest.hosts.clone(),
            secrets: manifest.secrets.clone(),
            storage_quota: manifest.storage_quota,
            limits: LimitOverrides::default(),
        }
    }

    pub fn validate(&self) -> Result<(), GrantError> {
        for h in &self.hosts {
            HostPattern::parse(h)?;
        }
        Ok(())
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum GrantError {
    #[error(
        "invalid host pattern `{0}`: use scheme://host[:port], e.g. https://api.example.com, https://*.example.com or http://127.0.0.1:*"
    )]
    BadPattern(String),
}

/// `scheme://host[:port]` with `*` for any host, `*.domain` for subdomains, `:*` for any port.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPattern {
    scheme: String,
    host: HostMatch,
    port: Option<u16>,
    any_port: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum HostMatch {
    Any,
    Exact(String),
    Suffix(String),
}

impl HostPattern {
    pub fn parse(pattern: &str) -> Result<HostPattern, GrantError> {
        let bad = || GrantError::BadPattern(pattern.to_string());
        let (scheme, rest) = pattern.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad());
        }
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.is_empty() {
            return Err(bad());
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => (h, Some(p)),
            _ => (rest, None),
        };
        let (port, any_port) = match port {
            None => (None, false),
            Some("*") => (None, true),
            Some(p) => (Some(p.parse::<u16>().map_err(|_| bad())?), false),
        };
        let host = host.to_ascii_lowercase();
        let host = if host == "*" {
            HostMatch::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return Err(bad());
            }
            HostMatch::Suffix(suffix.to_string())
        } else if host.contains('*') || host.is_empty() {
            return Err(bad());
        } else {
            HostMatch::Exact(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
            )
        };
        Ok(HostPattern {
            scheme,
            host,
            port,
            any_port,
        })
    }

    pub fn matches(&self, url: &url::Url) -> bool {
        if url.scheme() != self.scheme {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let host_ok = match &self.host {
            HostMatch::Any => true,
            HostMatch::Exact(h) => *h == host,
            HostMatch::Suffix(s) => host.len() > s.len() + 1 && host.ends_with(&format!(".{s}")),
        };
        if !host_ok {
            return false;
        }
        let port = url.port_or_known_default();
        self.any_port
            || port
                == Some(
                    self.port
                        .unwrap_or(if self.scheme == "https" { 443 } else { 80 }),
                )
    }
}

/// The intersection of manifest and grants, checked on every capability use.
#[derive(Debug, Clone)]
pub struct Effective {
    requested_hosts: Vec<HostPattern>,
    granted_hosts: Vec<HostPattern>,
    pub granted_host_text: Vec<String>,
    pub secrets: Vec<String>,
    pub requested_secrets: Vec<String>,
    pub storage_quota: u64,
}

impl Effective {
    pub fn new(manifest: &Manifest, grants: &Grants) -> Result<Effective, GrantError> {
        let parse = |list: &[String]| -> Result<Vec<HostPattern>, GrantError> {
            list.iter().map(|h| HostPattern::parse(h)).collect()
        };
        Ok(Effective {
            requested_hosts: parse(&manifest.hosts)?,
            granted_hosts: parse(&grants.hosts)?,
            granted_host_text: grants.hosts.clone(),
            secrets: manifest
                .secrets
                .iter()
                .filter(|s| grants.secrets.contains(s))
                .cloned()
                .collect(),
            requested_secrets: manifest.secrets.clone(),
            storage_quota: manifest.storage_quota.min(grants.storage_quota),
        })
    }

    /// Whether the plugin may reach `url`; the error says which side is missing.
    pub fn check_url(&self, url: &url::Url) -> Result<(), HostRefusal> {
        if !self.requested_hosts.iter().any(|p| p.matches(url)) {
            return Err(HostRefusal::NotDeclared);
        }
        if !self.granted_hosts.iter().any(|p| p.matches(url)) {
            return Err(HostRefusal::NotGranted);
        }
        Ok(())
    }

    pub fn secret_allowed(&self, name: &str) -> Result<(), HostRefusal> {
        if !self.requested_secrets.iter().any(|s| s == name) {
            return Err(HostRefusal::NotDeclared);
        }
        if !self.secrets.iter().any(|s| s == name) {
            return Err(HostRefusal::NotGranted);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HostRefusal {
    /// The plugin's manifest does not ask for it (the author must declare it).
    NotDeclared,
    /// The operator has not granted it.
    NotGranted,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn patterns_match_scheme_host_and_port() {
        let p = HostPattern::parse("https://api.example.com").unwrap();
        assert!(p.matches(&url("https://api.example.com/v1/x")));
        assert!(p.matches(&url("https://API.example.com:443/")));
        assert!(!p.matches(&url("http://api.example.com/")));
        assert!(!p.matches(&url("https://api.example.com:8443/")));
        assert!(!p.matches(&url("https://api.example.com.evil.net/")));

        let w = HostPattern::parse("https://*.example.com").unwrap();
        assert!(w.matches(&url("https://a.b.example.com/")));
        assert!(!w.matches(&url("https://example.com/")));
        assert!(!w.matches(&url("https://badexample.com/")));

        let any = HostPattern::parse("http://127.0.0.1:*").unwrap();
        assert!(any.matches(&url("http://127.0.0.1:4567/x")));
        assert!(!any.matches(&url("http://127.0.0.2:4567/x")));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in [
            "api.example.com",
            "ftp://x",
            "https://a*b.com",
            "https://x.com/path",
            "https://x:99999",
        ] {
            assert!(HostPattern::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn effective_is_the_intersection() {
        let manifest = super::super::manifest::Manifest::parse(
            "id = \"p\"\nversion = \"1\"\ncontract = \"0.1.0\"\nworld = \"platform\"\nhosts = [\"https://*\"]\nsecrets = [\"a\", \"b\"]\nstorage-quota = 100\n",
        )
        .unwrap();
        let grants = Grants {
            hosts: vec!["https://api.example.com".into()],
            secrets: vec!["b".into(), "c".into()],
            storage_quota: 1000,
            ..Default::default()
        };
        let e = Effective::new(&manifest, &grants).unwrap();
        assert_eq!(e.check_url(&url("https://api.example.com/")), Ok(()));
        assert_eq!(
            e.check_url(&url("https://other.example.com/")),
            Err(HostRefusal::NotGranted)
        );
        assert_eq!(
            e.check_url(&url("http://api.example.com/")),
            Err(HostRefusal::NotDeclared)
        );
        assert_eq!(e.secret_allowed("b"), Ok(()));
        assert_eq!(e.secret_allowed("a"), Err(HostRefusal::NotGranted));
        assert_eq!(e.secret_allowed("c"), Err(HostRefusal::NotDeclared));
        assert_eq!(e.storage_quota, 100);
    }
}
