//! The plugin manifest: what a plugin is and what it asks for, read from the
//! `plugboard:manifest` custom section before anything is compiled.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Name of the custom section the SDK writes (and authors without the SDK add).
pub const SECTION: &str = "plugboard:manifest";

/// Contract versions this host runs. A plugin built against another one is refused before
/// compilation, with a message that says which versions would load.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum World {
    Platform,
    AiProvider,
}

impl World {
    pub fn as_str(self) -> &'static str {
        match self {
            World::Platform => "platform",
            World::AiProvider => "ai-provider",
        }
    }
}

/// What a plugin declares about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    /// Stable id (`[a-z0-9-]`, 1–64 chars): the registry key.
    pub id: String,
    /// Semantic version of this build.
    pub version: String,
    /// The `plugboard:plugin` contract version it was built against.
    pub contract: String,
    pub world: World,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Outbound URL patterns it needs, e.g. `https://api.example.com`, `https://*.example.com:443`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// App secret names it reads (client_id, client_secret, api_key, …).
    #[serde(default)]
    pub secrets: Vec<String>,
    /// Bytes of plugin storage it needs.
    #[serde(default)]
    pub storage_quota: u64,
}

#[derive(Debug, Error)]
pub enum ManifestError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error(
        "the component has no `{SECTION}` custom section; build it with plugboard-sdk or add the section (see the plugin author guide)"
    )]
    Missing,
    #[error("the `{SECTION}` section is not valid TOML: {0}")]
    Invalid(String),
    #[error("invalid plugin id `{0}`: use 1-64 characters of a-z, 0-9 and '-'")]
    BadId(String),
    #[error(
        "plugin `{id}` {version} was built against contract {contract}; this host runs contract {}. Rebuild it with a supported plugboard-sdk",
        SUPPORTED_CONTRACTS.join(", ")
    )]
    UnsupportedContract {
        id: String,
        version: String,
        contract: String,
    },
}

impl Manifest {
    /// Reads and checks the manifest of a component binary without compiling it.
    pub fn from_component(bytes: &[u8]) -> Result<Manifest, ManifestError> {
        if !wasmparser::Parser::is_component(bytes) {
            return Err(ManifestError::NotAComponent(
                "the file does not start with the component-model header (a core module? build for wasm32-wasip2)".into(),
            ));
        }
        let mut found = None;
        for payload in wasmparser::Parser::new(0).parse_all(bytes) {
            let payload = payload.map_err(|e| ManifestError::NotAComponent(e.to_string()))?;
            if let wasmparser::Payload::CustomSection(section) = payload
                && section.name() == SECTION
            {
                found = Some(section.data().to_vec());
                break;
            }
        }
        let data = found.ok_or(ManifestError::Missing)?;
        let text = std::str::from_utf8(&data).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        Manifest::parse(text)
    }

    /// Appends a `plugboard:manifest` custom section to a component built without the SDK
    /// (any language): custom sections may stand anywhere in a component binary. Refuses a
    /// component that already has one, and a manifest that does not parse.
    pub fn embed(component: &[u8], manifest_toml: &str) -> Result<Vec<u8>, ManifestError> {
        Manifest::parse(manifest_toml)?;
        match Manifest::from_component(component) {
            Err(ManifestError::Missing) => {}
            Err(e) => return Err(e),
            Ok(m) => {
                return Err(ManifestError::Invalid(format!(
                    "the component already carries a manifest (plugin `{}` {})",
                    m.id, m.version
                )));
            }
        }
        fn leb128(mut n: usize, out: &mut Vec<u8>) {
            loop {
                let byte = (n & 0x7f) as u8;
                n >>= 7;
                if n == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
        }
        let mut payload = Vec::new();
        leb128(SECTION.len(), &mut payload);
        payload.extend_from_slice(SECTION.as_bytes());
        payload.extend_from_slice(manifest_toml.as_bytes());
        let mut out = component.to_vec();
        out.push(0); // custom section id
        leb128(payload.len(), &mut out);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Invalid(e.to_string()))?;
        if manifest.id.is_empty()
            || manifest.id.len() > 64
            || !manifest
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ManifestError::BadId(manifest.id));
        }
        if !SUPPORTED_CONTRACTS.contains(&manifest.contract.as_str()) {
            return Err(ManifestError::UnsupportedContract {
                id: manifest.id,
                version: manifest.version,
                contract: manifest.contract,
            });
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sdk_manifest() {
        let m = Manifest::parse(
            "id = \"mastodon\"\nversion = \"0.1.0\"\ncontract = \"0.1.0\"\nworld = \"platform\"\nhosts = [\"https://*\"]\nsecrets = [\"client_id\"]\nstorage-quota = 1024\n",
        )
        .unwrap();
        assert_eq!(m.world, World::Platform);
        assert_eq!(m.storage_quota, 1024);
    }

    #[test]
    fn refuses_other_contract_with_guidance() {
        let err = Manifest::parse(
            "id = \"x\"\nversion = \"1.0.0\"\ncontract = \"9.0.0\"\nworld = \"platform\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("contract 9.0.0") && text.contains("0.1.0"),
            "{text}"
        );
    }

    #[test]
    fn refuses_bad_ids_and_core_modules() {
        assert!(matches!(
            Manifest::parse(
                "id = \"../x\"\nversion = \"1\"\ncontract = \"0.1.0\"\nworld = \"platform\"\n"
            ),
            Err(ManifestError::BadId(_))
        ));
        assert!(matches!(
            Manifest::from_component(b"\0asm\x01\0\0\0"),
            Err(ManifestError::NotAComponent(_))
        ));
    }
}
