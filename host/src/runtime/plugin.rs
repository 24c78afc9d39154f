//! A loaded plugin version: manifest, compiled component, pre-linked instance, grants.

use super::grants::{Effective, Grants};
use super::limits::Limits;
use super::manifest::{Manifest, World};
use super::state::HostState;
use anyhow::Result;
use plugboard_bindings::ai::AiProviderPre;
use plugboard_bindings::platform::PlatformPre;
use std::sync::Arc;
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

pub enum Pre {
    Platform(PlatformPre<HostState>),
    Ai(AiProviderPre<HostState>),
}

pub struct LoadedPlugin {
    pub manifest: Manifest,
    /// SHA-256 of the component bytes, hex.
    pub content_hash: String,
    pub grants: Grants,
    pub effective: Arc<Effective>,
    pub limits: Limits,
    pub(crate) pre: Pre,
}

impl LoadedPlugin {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }
    pub fn version(&self) -> &str {
        &self.manifest.version
    }
}

/// Linkers for both worlds, built once per engine.
pub struct Linkers {
    platform: Linker<HostState>,
    ai: Linker<HostState>,
}

impl Linkers {
    pub fn new(engine: &Engine) -> Result<Linkers> {
        let mut platform = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut platform)?;
        plugboard_bindings::platform::Platform::add_to_linker::<_, HasSelf<HostState>>(
            &mut platform,
            |s| s,
        )?;
        let mut ai = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut ai)?;
        plugboard_bindings::ai::AiProvider::add_to_linker::<_, HasSelf<HostState>>(&mut ai, |s| s)?;
        Ok(Linkers { platform, ai })
    }

    /// Resolves the component's imports against the host once, so each call only
    /// instantiates. Fails, naming the import, when the plugin needs something this host
    /// does not provide.
    pub fn prepare(&self, world: World, component: &Component) -> Result<Pre> {
        Ok(match world {
            World::Platform => {
                let pre = self.platform.instantiate_pre(component).map_err(|e| {
                    anyhow::anyhow!("the plugin's imports do not match the platform world: {e:#}")
                })?;
                Pre::Platform(PlatformPre::new(pre).map_err(|e| {
                    anyhow::anyhow!("the plugin does not export the platform world: {e:#}")
                })?)
            }
            World::AiProvider => {
                let pre = self.ai.instantiate_pre(component).map_err(|e| {
                    anyhow::anyhow!(
                        "the plugin's imports do not match the ai-provider world: {e:#}"
                    )
                })?;
                Pre::Ai(AiProviderPre::new(pre).map_err(|e| {
                    anyhow::anyhow!("the plugin does not export the ai-provider world: {e:#}")
                })?)
            }
        })
    }
}
