//! The connected accounts a post may target.

use crate::app::App;
use crate::on_db;

pub struct TargetAccount {
    pub plugin: String,
}

/// The account if it is an active account of the workspace.
pub async fn active(
    app: &App,
    workspace_id: &str,
    account_id: &str,
) -> anyhow::Result<Option<TargetAccount>> {
    let sql = app.db.sql(
        "SELECT plugin_id FROM accounts WHERE id = ? AND workspace_id = ? AND status = 'active'",
    );
    let plugin: Option<String> = on_db!(&app.db, |p| sqlx::query_scalar(sql)
        .bind(account_id)
        .bind(workspace_id)
        .fetch_optional(p)
        .await?);
    Ok(plugin.map(|plugin| TargetAccount { plugin }))
}
