//! The `plugboard` command line: `serve`, `migrate`, the operator's `plugin …` commands
//! (through the admin API of a running server, or `--offline` on the data folder) and
//! `keys rotate`.

use crate::app::App;
use crate::config::Config;
use crate::runtime::grants::Grants;
use crate::runtime::limits::LimitOverrides;
use crate::runtime::manifest::Manifest;
use crate::runtime::registry::InstallMode;
use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "plugboard",
    version,
    about = "Social publishing server with sandboxed WebAssembly plugins"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database and installs bundled plugins on first start).
    Serve {
        #[command(flatten)]
        config: Config,
        /// Development: reload plugins from this folder whenever a `.wasm` changes.
        #[arg(long)]
        watch: Option<PathBuf>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Manage plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Manage the key that encrypts stored credentials.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Internal: run one media studio operation in isolation (started by the server).
    #[command(hide = true)]
    MediaWorker {
        /// The work order (JSON) the server wrote.
        order: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key primary and re-encrypt every stored credential with it, in one
    /// transaction (stop the server first). Old key files are kept.
    Rotate {
        #[command(flatten)]
        config: Config,
        /// The new key when the current one comes from PLUGBOARD_CREDENTIALS_KEY (64 hex
        /// characters); with key files the new key is generated.
        #[arg(long, env = "PLUGBOARD_NEW_CREDENTIALS_KEY", hide_env_values = true)]
        new_key: Option<crate::crypto::credentials::KeyHex>,
    },
}

pub async fn run_keys_command(cmd: KeysCommand) -> Result<()> {
    match cmd {
        KeysCommand::Rotate { config, new_key } => {
            if !config.data_dir.is_dir() {
                bail!(
                    "no data folder at {}; give the server's with --data-dir",
                    config.data_dir.display()
                );
            }
            let db = crate::store::Db::connect(&config.database_url()).await?;
            db.migrate().await.context("running database migrations")?;
            let cipher = crate::crypto::credentials::CredentialCipher::load(
                &config.data_dir,
                config.credentials_key.as_ref(),
            )?;
            let r = crate::accounts::keys::rotate(&db, &cipher, new_key.as_ref()).await?;
            println!(
                "re-encrypted {} app(s), {} account(s) and {} pending authorization(s) with credentials key `{}` (was `{}`)",
                r.apps, r.accounts, r.oauth_states, r.new_key_id, r.previous_key_id
            );
            match &r.key_file {
                Some(file) => println!(
                    "the new key is {}; the old key files are kept in {} (backups made before now need them): back the folder up again",
                    file.display(),
                    crate::crypto::credentials::key_dir(&config.data_dir).display()
                ),
                None => println!(
                    "set PLUGBOARD_CREDENTIALS_KEY to the new key before starting the server; the old key is no longer used"
                ),
            }
            Ok(())
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a component file's manifest, contract, requested grants, imports and exports.
    Inspect { file: PathBuf },
    /// Add a manifest (TOML: id, version, contract, world, hosts, secrets, storage-quota)
    /// to a component built without the SDK, e.g. with componentize-py.
    Package {
        component: PathBuf,
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// List installed plugins with their active version and grants.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Install a new plugin.
    Install {
        file: PathBuf,
        #[command(flatten)]
        grants: GrantArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Install a new version of an installed plugin (keeps its grants unless given).
    Upgrade {
        file: PathBuf,
        #[command(flatten)]
        grants: GrantArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Make the previous version active again.
    Rollback {
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Add grants to an installed plugin (hosts, secrets, storage quota, limits).
    Grant {
        id: String,
        #[command(flatten)]
        grants: GrantArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a plugin, its versions and its storage.
    Remove {
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Where the change goes: a running server's admin API (default) or the data folder.
#[derive(Debug, Args)]
pub struct Target {
    /// Base URL of the running server.
    #[arg(
        long,
        env = "PLUGBOARD_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// Operator token (default: read from DATA_DIR/admin-token).
    #[arg(long, env = "PLUGBOARD_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Change the data folder directly, with the server stopped.
    #[arg(long)]
    pub offline: bool,
    #[arg(long, env = "PLUGBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args, Default)]
pub struct GrantArgs {
    /// Grant everything the manifest requests.
    #[arg(long)]
    pub grant_requested: bool,
    /// Grant an outbound host pattern (repeatable), e.g. https://api.example.com.
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// Grant an app secret by name (repeatable).
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// Grant storage quota in bytes.
    #[arg(long)]
    pub storage_quota: Option<u64>,
    /// Override a limit, e.g. `cpu-ms=5000`, `memory-bytes=134217728`, or the number of a
    /// rate rule the plugin declares, e.g. `rate-limits.requests=3000` (repeatable).
    #[arg(long = "limit", value_parser = parse_limit)]
    pub limits: Vec<(String, u64)>,
}

fn parse_limit(s: &str) -> Result<(String, u64), String> {
    let (k, v) = s.split_once('=').ok_or("use NAME=VALUE")?;
    let v: u64 = v.parse().map_err(|_| format!("`{v}` is not a number"))?;
    Ok((k.to_string(), v))
}

impl GrantArgs {
    fn is_empty(&self) -> bool {
        !self.grant_requested
            && self.hosts.is_empty()
            && self.secrets.is_empty()
            && self.storage_quota.is_none()
            && self.limits.is_empty()
    }

    /// These grants added to `base` (and to what the manifest requests, if asked).
    fn merged(&self, base: Grants, manifest: Option<&Manifest>) -> Result<Grants> {
        let mut g = base;
        if self.grant_requested {
            let m = manifest.context("--grant-requested needs the component's manifest")?;
            let req = Grants::requested(m);
            extend_unique(&mut g.hosts, req.hosts);
            extend_unique(&mut g.secrets, req.secrets);
            g.storage_quota = g.storage_quota.max(req.storage_quota);
        }
        extend_unique(&mut g.hosts, self.hosts.clone());
        extend_unique(&mut g.secrets, self.secrets.clone());
        if let Some(q) = self.storage_quota {
            g.storage_quota = q;
        }
        if !self.limits.is_empty() {
            let mut table = serde_json::to_value(&g.limits)?;
            for (k, v) in &self.limits {
                match k.strip_prefix("rate-limits.") {
                    // A rate rule of the plugin's, by what it counts: `rate-limits.requests=3000`.
                    Some(counts) => {
                        if !table["rate-limits"].is_object() {
                            table["rate-limits"] = serde_json::json!({});
                        }
                        table["rate-limits"][counts] = serde_json::json!(v);
                    }
                    None => table[k.as_str()] = serde_json::json!(v),
                }
            }
            g.limits = serde_json::from_value::<LimitOverrides>(table)
                .context("unknown limit name; see `plugboard plugin list` for the limit names")?;
        }
        g.validate()?;
        Ok(g)
    }
}

fn extend_unique(list: &mut Vec<String>, more: Vec<String>) {
    for m in more {
        if !list.contains(&m) {
            list.push(m);
        }
    }
}

fn print(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub async fn run_plugin_command(cmd: PluginCommand) -> Result<()> {
    match cmd {
        PluginCommand::Inspect { file } => inspect(&file),
        PluginCommand::Package {
            component,
            manifest,
            output,
        } => {
            let bytes = std::fs::read(&component)
                .with_context(|| format!("reading {}", component.display()))?;
            let toml = std::fs::read_to_string(&manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            let packaged = Manifest::embed(&bytes, &toml)?;
            std::fs::write(&output, &packaged)
                .with_context(|| format!("writing {}", output.display()))?;
            inspect(&output)
        }
        PluginCommand::List { target } => {
            if target.offline {
                let app = offline_app(&target).await?;
                let all: Vec<_> = app
                    .runtime
                    .registry
                    .list()
                    .iter()
                    .map(|p| crate::api::admin_plugins::PluginView::of(p))
                    .collect();
                print(&serde_json::json!({ "plugins": all }))
            } else {
                print(
                    &Remote::new(&target)?
                        .send(reqwest::Method::GET, "/plugins", None)
                        .await?,
                )
            }
        }
        PluginCommand::Install {
            file,
            grants,
            target,
        } => change(file, grants, target, InstallMode::Install).await,
        PluginCommand::Upgrade {
            file,
            grants,
            target,
        } => change(file, grants, target, InstallMode::Upgrade).await,
        PluginCommand::Rollback { id, target } => {
            if target.offline {
                print(
                    &offline_app(&target)
                        .await?
                        .runtime
                        .registry
                        .rollback(&id)
                        .await?,
                )
            } else {
                print(
                    &Remote::new(&target)?
                        .send(
                            reqwest::Method::POST,
                            &format!("/plugins/{id}/rollback"),
                            None,
                        )
                        .await?,
                )
            }
        }
        PluginCommand::Remove { id, target } => {
            if target.offline {
                offline_app(&target)
                    .await?
                    .runtime
                    .registry
                    .remove(&id)
                    .await?;
            } else {
                Remote::new(&target)?
                    .send(reqwest::Method::DELETE, &format!("/plugins/{id}"), None)
                    .await?;
            }
            println!("removed {id}");
            Ok(())
        }
        PluginCommand::Grant { id, grants, target } => {
            if grants.is_empty() {
                bail!(
                    "nothing to grant: give --host, --secret, --storage-quota, --limit or --grant-requested"
                );
            }
            if target.offline {
                let app = offline_app(&target).await?;
                let current = app
                    .runtime
                    .registry
                    .get(&id)
                    .with_context(|| format!("plugin `{id}` is not installed"))?;
                let merged = grants.merged(current.grants.clone(), Some(&current.manifest))?;
                print(&app.runtime.registry.grant(&id, merged).await?)
            } else {
                let remote = Remote::new(&target)?;
                let current = remote
                    .send(reqwest::Method::GET, &format!("/plugins/{id}"), None)
                    .await?;
                let base: Grants = serde_json::from_value(current["plugin"]["grants"].clone())?;
                let manifest = Manifest {
                    id: id.clone(),
                    version: String::new(),
                    contract: String::new(),
                    world: crate::runtime::manifest::World::Platform,
                    name: None,
                    description: None,
                    hosts: serde_json::from_value(current["plugin"]["requested"]["hosts"].clone())?,
                    secrets: serde_json::from_value(
                        current["plugin"]["requested"]["secrets"].clone(),
                    )?,
                    storage_quota: serde_json::from_value(
                        current["plugin"]["requested"]["storage_quota"].clone(),
                    )?,
                };
                let merged = grants.merged(base, Some(&manifest))?;
                let body = reqwest::Body::from(serde_json::to_vec(&merged)?);
                print(
                    &remote
                        .send(
                            reqwest::Method::PUT,
                            &format!("/plugins/{id}/grants"),
                            Some(Payload::Json(body)),
                        )
                        .await?,
                )
            }
        }
    }
}

async fn change(file: PathBuf, grants: GrantArgs, target: Target, mode: InstallMode) -> Result<()> {
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let manifest = Manifest::from_component(&bytes)?;
    let explicit = if grants.is_empty() {
        None
    } else {
        Some(grants.merged(Grants::default(), Some(&manifest))?)
    };
    if target.offline {
        let app = offline_app(&target).await?;
        return print(&app.runtime.registry.install(&bytes, explicit, mode).await?);
    }
    let remote = Remote::new(&target)?;
    let mut form = reqwest::multipart::Form::new().part(
        "component",
        reqwest::multipart::Part::bytes(bytes).file_name(
            file.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    );
    if let Some(g) = explicit {
        form = form.text("grants", serde_json::to_string(&g)?);
    }
    let (method, path) = match mode {
        InstallMode::Upgrade => (reqwest::Method::PUT, format!("/plugins/{}", manifest.id)),
        _ => (reqwest::Method::POST, "/plugins".to_string()),
    };
    print(
        &remote
            .send(method, &path, Some(Payload::Form(form)))
            .await?,
    )
}

async fn offline_app(target: &Target) -> Result<std::sync::Arc<App>> {
    App::open(Config::for_data_dir(target.data_dir.clone())).await
}

fn inspect(file: &std::path::Path) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let manifest = Manifest::from_component(&bytes)?;
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let component = wasmtime::component::Component::new(&engine, &bytes)
        .map_err(|e| anyhow::anyhow!("compiling the component: {e:#}"))?;
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
    let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
    print(&serde_json::json!({
        "manifest": manifest,
        "size_bytes": bytes.len(),
        "content_hash": crate::runtime::registry::content_hash(&bytes),
        "requested_grants": {
            "hosts": manifest.hosts,
            "secrets": manifest.secrets,
            "storage_quota": manifest.storage_quota,
        },
        "imports": imports,
        "exports": exports,
    }))
}

enum Payload {
    Json(reqwest::Body),
    Form(reqwest::multipart::Form),
}

struct Remote {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Remote {
    fn new(target: &Target) -> Result<Remote> {
        let token = match &target.token {
            Some(t) => t.clone(),
            None => {
                let path = target.data_dir.join("admin-token");
                std::fs::read_to_string(&path)
                    .with_context(|| {
                        format!("no --token given and {} is not readable", path.display())
                    })?
                    .trim()
                    .to_string()
            }
        };
        Ok(Remote {
            client: reqwest::Client::new(),
            base: format!("{}/api/v1/admin", target.server.trim_end_matches('/')),
            token,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        payload: Option<Payload>,
    ) -> Result<serde_json::Value> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        req = match payload {
            None => req,
            Some(Payload::Json(b)) => req.header("content-type", "application/json").body(b),
            Some(Payload::Form(f)) => req.multipart(f),
        };
        let resp = req
            .send()
            .await
            .with_context(|| format!("reaching the server at {} (is it running? use --offline to change the data folder directly)", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            let detail = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v["detail"].as_str().map(String::from))
                .unwrap_or(text);
            bail!("{status}: {detail}");
        }
        if text.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }
}
