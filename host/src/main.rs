use clap::Parser;
use plugboard::app::App;
use plugboard::cli::{Cli, Command};
use std::process::ExitCode;

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = matches!(&cli.command, Command::Serve { config, .. } if config.log_json);
    init_tracing(json);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config, watch } => {
            let app = App::open(config).await?;
            app.install_bundled().await?;
            let _watcher = match watch {
                Some(dir) => {
                    Some(plugboard::runtime::watch::watch(app.runtime.registry.clone(), dir).await?)
                }
                None => None,
            };
            let running = plugboard::server::start(app).await?;
            tokio::signal::ctrl_c().await?;
            tracing::info!("shutting down");
            running.stop().await;
            Ok(())
        }
        Command::Migrate { config } => {
            App::open(config).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Plugin(cmd) => plugboard::cli::run_plugin_command(cmd).await,
        Command::Keys(cmd) => plugboard::cli::run_keys_command(cmd).await,
        Command::MediaWorker { order } => {
            std::process::exit(mediakit::worker::main(&order));
        }
    }
}
