//! Secret keys kept as files in the data folder, created on first start.

use anyhow::{Context, Result};
use rand::RngCore;
use std::path::Path;

/// Reads a 32-byte key (hex) from `path`, creating it with mode 0600 if missing.
pub fn load_or_create(path: &Path) -> Result<Vec<u8>> {
    if path.exists() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key =
            hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
        anyhow::ensure!(
            key.len() == 32,
            "{} must hold 32 bytes of hex",
            path.display()
        );
        return Ok(key);
    }
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    write_private(path, hex::encode(&key).as_bytes())?;
    Ok(key)
}

/// Writes a file readable only by the owner.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    Ok(())
}
