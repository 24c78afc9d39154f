//! Auto-reply rules: the first enabled rule of the account whose keyword the new comment
//! contains (case-insensitively) answers it with its template, or with an AI draft, sent
//! without review. An account has no rules until someone adds one, and a rule is disabled
//! unless created enabled, so nothing is answered automatically by default.

use crate::app::App;
use crate::store::inbox::{self as store, Rule};

pub const TEMPLATE: &str = "template";
pub const AI: &str = "ai";
pub const MAX_KEYWORD_CHARS: usize = 100;

/// The rule that answers `text`, if any.
pub fn matching<'a>(rules: &'a [Rule], text: &str) -> Option<&'a Rule> {
    let text = text.to_lowercase();
    rules
        .iter()
        .filter(|r| r.enabled)
        .find(|r| text.contains(&r.keyword.to_lowercase()))
}

/// Applies the account's rules to a newly received item.
pub async fn apply(app: &App, item_id: &str) -> anyhow::Result<()> {
    let Some(item) = store::get_any(&app.db, item_id).await? else {
        return Ok(());
    };
    let rules = store::rules(&app.db, &item.workspace_id, &item.account_id).await?;
    let Some(rule) = matching(&rules, &item.text) else {
        return Ok(());
    };
    let text = match (rule.mode.as_str(), &rule.template) {
        (TEMPLATE, Some(t)) => t.clone(),
        _ => super::ai_draft(app, &item).await?,
    };
    let mut tx = app.db.write_tx(&format!("inbox:{}", item.id)).await?;
    store::set_draft(&app.db, &mut tx, &item.id, &text, "rule").await?;
    store::log(
        &app.db,
        &mut tx,
        &item.id,
        None,
        "auto_reply",
        serde_json::json!({ "rule_id": rule.id, "mode": rule.mode }),
    )
    .await?;
    tx.commit().await?;
    super::queue_reply(app, &item, None, &text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(keyword: &str, enabled: bool) -> Rule {
        Rule {
            id: keyword.into(),
            account_id: "a".into(),
            keyword: keyword.into(),
            mode: TEMPLATE.into(),
            template: Some("thanks".into()),
            enabled,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn only_enabled_rules_match_case_insensitively() {
        let rules = vec![rule("price", false), rule("Shipping", true)];
        assert!(matching(&rules, "what is the price?").is_none());
        assert_eq!(
            matching(&rules, "how long does SHIPPING take").map(|r| r.id.as_str()),
            Some("Shipping")
        );
    }
}
