//! Bulk import of posts from CSV or JSON: every row is checked as scheduling would check it
//! (active target accounts, media of the workspace, a local time in a valid IANA zone, and
//! each target against its platform), duplicates are flagged, and the valid rows are
//! written in one transaction — all of them or, in partial mode, those that passed.

use super::check;
use super::content::Content;
use super::schedule::{enqueue_publish, parse_local, parse_zone, resolve};
use crate::app::App;
use crate::media::MediaError;
use crate::store::post_batches::{self, BatchPost, BatchTarget, Schedule};
use crate::store::posts::{Post, Target};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub const MAX_ROWS: usize = 1000;
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The CSV columns; a header row names them, in any order (`text` and `targets` required).
pub const COLUMNS: [&str; 7] = [
    "text",
    "targets",
    "media",
    "kind",
    "scheduled_at_local",
    "timezone",
    "options",
];

/// One post to import. In CSV, `targets` are account ids separated by `|` or spaces,
/// `media` media ids separated by `|`, and `options` `key=value` pairs separated by `;`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    #[serde(default)]
    pub text: String,
    /// Connected account ids.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Media library ids.
    #[serde(default)]
    pub media: Vec<String>,
    /// Default `text`.
    pub kind: Option<String>,
    /// Local date and time without offset, e.g. `2026-03-29T09:30`; absent: a draft.
    pub scheduled_at_local: Option<String>,
    /// IANA zone of `scheduled_at_local`; default the workspace's.
    pub timezone: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// The JSON form of an import.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportJson {
    pub posts: Vec<ImportRow>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    /// The column (field) at fault, or `row` for a duplicate.
    pub field: String,
    /// A stable slug, e.g. `unknown-target`, `invalid-timezone`, `duplicate`.
    pub code: String,
    pub message: String,
    /// The target account a platform check is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

fn problem(field: &str, code: &str, message: impl Into<String>) -> RowProblem {
    RowProblem {
        field: field.into(),
        code: code.into(),
        message: message.into(),
        account_id: None,
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowReport {
    /// 1 for the first post (in CSV, the record after the header).
    pub row: usize,
    /// CSV only: the line the record starts on (the header is line 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The row passed every check.
    pub ok: bool,
    /// Set when the post was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_id: Option<String>,
    pub problems: Vec<RowProblem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub created: usize,
    pub failed: usize,
    pub rows: Vec<RowReport>,
}

/// A row read from the body, with what reading it found wrong.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub row: usize,
    pub line: Option<u64>,
    pub fields: ImportRow,
    pub problems: Vec<RowProblem>,
}

/// A body that cannot be read as an import at all.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("the CSV is malformed at line {line}: {message}")]
    MalformedCsv { line: u64, message: String },
    #[error("the JSON is malformed: {0}")]
    MalformedJson(String),
    #[error("{0}")]
    Invalid(String),
    #[error("at most {MAX_ROWS} posts per import")]
    TooManyRows,
    #[error("the import holds no posts")]
    Empty,
}

fn csv_error(e: &csv::Error) -> FormatError {
    FormatError::MalformedCsv {
        line: e.position().map(|p| p.line()).unwrap_or(1),
        message: match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("{len} fields where the header has {expected_len}"),
            csv::ErrorKind::Utf8 { .. } => "the text is not UTF-8".into(),
            _ => e.to_string(),
        },
    }
}

fn options(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for pair in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| format!("`{pair}` is not key=value"))?;
        if out
            .insert(k.trim().to_string(), v.trim().to_string())
            .is_some()
        {
            return Err(format!("option `{}` is given twice", k.trim()));
        }
    }
    Ok(out)
}

fn non_empty(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Reads a CSV import: a header row naming the columns, then one post per record.
pub fn parse_csv(body: &[u8]) -> Result<Vec<Parsed>, FormatError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let headers = reader.headers().map_err(|e| csv_error(&e))?.clone();
    let mut columns = Vec::with_capacity(headers.len());
    for h in &headers {
        let name = h.trim().to_ascii_lowercase();
        let known = COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
            FormatError::Invalid(format!(
                "unknown column `{name}`; the columns are {}",
                COLUMNS.join(", ")
            ))
        })?;
        if columns.contains(known) {
            return Err(FormatError::Invalid(format!(
                "column `{name}` is given twice"
            )));
        }
        columns.push(*known);
    }
    if !columns.contains(&"text") || !columns.contains(&"targets") {
        return Err(FormatError::Invalid(
            "the header row must name at least the `text` and `targets` columns".into(),
        ));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        if out.len() == MAX_ROWS {
            return Err(FormatError::TooManyRows);
        }
        let mut fields = ImportRow::default();
        let mut problems = Vec::new();
        for (column, value) in columns.iter().zip(record.iter()) {
            match *column {
                "text" => fields.text = value.to_string(),
                "targets" => {
                    fields.targets = value
                        .split(|c: char| c == '|' || c.is_whitespace())
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "media" => fields.media = value.split('|').filter_map(non_empty).collect(),
                "kind" => fields.kind = non_empty(value),
                "scheduled_at_local" => fields.scheduled_at_local = non_empty(value),
                "timezone" => fields.timezone = non_empty(value),
                _ => match options(value) {
                    Ok(o) => fields.options = o,
                    Err(m) => problems.push(problem("options", "invalid-options", m)),
                },
            }
        }
        out.push(Parsed {
            row: out.len() + 1,
            line: record.position().map(|p| p.line()),
            fields,
            problems,
        });
    }
    if out.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(out)
}

/// Reads a JSON import: `{"posts": [...]}`.
pub fn parse_json(body: &[u8]) -> Result<Vec<Parsed>, FormatError> {
    let import: ImportJson = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => FormatError::Invalid(e.to_string()),
        _ => FormatError::MalformedJson(e.to_string()),
    })?;
    if import.posts.len() > MAX_ROWS {
        return Err(FormatError::TooManyRows);
    }
    if import.posts.is_empty() {
        return Err(FormatError::Empty);
    }
    Ok(import
        .posts
        .into_iter()
        .enumerate()
        .map(|(i, fields)| Parsed {
            row: i + 1,
            line: None,
            fields,
            problems: Vec::new(),
        })
        .collect())
}

/// All-or-nothing (the default) or partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    All,
    Partial,
}

/// A row that passed its own checks, ready to write.
struct Ready {
    post_id: String,
    content: Content,
    targets: Vec<BatchTarget>,
    /// Instant, zone, local time as given.
    schedule: Option<(DateTime<Utc>, String, String)>,
}

impl Ready {
    /// What makes two posts the same: text, target accounts and instant.
    fn key(&self) -> (String, Vec<String>, Option<i64>) {
        let mut accounts: Vec<String> = self.targets.iter().map(|t| t.account_id.clone()).collect();
        accounts.sort();
        (
            self.content.text.clone(),
            accounts,
            self.schedule.as_ref().map(|s| s.0.timestamp_millis()),
        )
    }
}

/// The caller of an import.
pub struct Importer<'a> {
    pub app: &'a App,
    pub workspace_id: &'a str,
    pub user_id: &'a str,
    /// Zone of rows that name none.
    pub default_zone: &'a str,
}

impl Importer<'_> {
    /// Checks every row, flags duplicates, then writes the rows to create in one
    /// transaction and enqueues the publish jobs of those scheduled.
    pub async fn run(&self, rows: Vec<Parsed>, mode: Mode) -> Result<Report> {
        let now = Utc::now();
        let mut checked = Vec::with_capacity(rows.len());
        for parsed in rows {
            let (problems, ready) = self.check(&parsed, now).await?;
            checked.push((parsed, problems, ready));
        }
        self.flag_duplicates(&mut checked).await?;
        let failed = checked.iter().filter(|(_, p, _)| !p.is_empty()).count();
        let write = mode == Mode::Partial || failed == 0;
        let mut created = HashSet::new();
        if write {
            let mut tx = self.app.db.write_tx(self.workspace_id).await?;
            for (_, _, ready) in checked.iter().filter(|(_, p, _)| p.is_empty()) {
                let Some(r) = ready else { continue };
                post_batches::insert(
                    &self.app.db,
                    &mut tx,
                    &BatchPost {
                        id: &r.post_id,
                        workspace_id: self.workspace_id,
                        created_by: Some(self.user_id),
                        content: &r.content,
                        targets: &r.targets,
                        schedule: r.schedule.as_ref().map(|(at, zone, local)| Schedule {
                            at: *at,
                            zone,
                            local,
                        }),
                    },
                )
                .await?;
                created.insert(r.post_id.clone());
            }
            tx.commit().await?;
            for (_, _, ready) in &checked {
                if let Some(r) = ready.as_ref().filter(|r| created.contains(&r.post_id))
                    && let Some((at, _, _)) = &r.schedule
                {
                    for t in &r.targets {
                        enqueue_publish(self.app, self.workspace_id, &t.id, *at).await?;
                    }
                }
            }
            self.app.jobs_waker.wake();
        }
        crate::store::activity::record(
            &self.app.db,
            self.workspace_id,
            Some(self.user_id),
            "posts.imported",
            "post",
            None,
            serde_json::json!({"created": created.len(), "failed": failed, "partial": mode == Mode::Partial}),
        )
        .await?;
        Ok(Report {
            created: created.len(),
            failed,
            rows: checked
                .into_iter()
                .map(|(parsed, problems, ready)| RowReport {
                    row: parsed.row,
                    line: parsed.line,
                    ok: problems.is_empty(),
                    post_id: ready.map(|r| r.post_id).filter(|id| created.contains(id)),
                    problems,
                })
                .collect(),
        })
    }

    /// A row's own checks; the row is ready to write when it has no problems.
    async fn check(
        &self,
        parsed: &Parsed,
        now: DateTime<Utc>,
    ) -> Result<(Vec<RowProblem>, Option<Ready>)> {
        let f = &parsed.fields;
        let mut problems = parsed.problems.clone();
        let content = Content {
            kind: f.kind.clone().unwrap_or_else(|| "text".into()),
            text: f.text.clone(),
            media: f.media.clone(),
            options: f.options.clone(),
            thread: Vec::new(),
            variants: BTreeMap::new(),
            auto_fit_media: false,
        };
        if let Err(m) = content.check_bounds() {
            problems.push(problem("post", "invalid-post", m));
        }
        if f.targets.is_empty() {
            problems.push(problem("targets", "required", "name at least one account"));
        } else if f.targets.len() > 100 {
            problems.push(problem("targets", "too-many", "at most 100 targets"));
        }
        let mut seen = HashSet::new();
        let mut targets = Vec::new();
        for id in f.targets.iter().take(100) {
            if !seen.insert(id) {
                problems.push(problem(
                    "targets",
                    "duplicate-target",
                    format!("account `{id}` is named twice"),
                ));
                continue;
            }
            match super::accounts::active(self.app, self.workspace_id, id).await? {
                Some(a) => targets.push(BatchTarget {
                    id: uuid::Uuid::now_v7().to_string(),
                    account_id: id.clone(),
                    plugin: a.plugin,
                }),
                None => problems.push(RowProblem {
                    account_id: Some(id.clone()),
                    ..problem(
                        "targets",
                        "unknown-target",
                        format!("`{id}` is not a connected account of this workspace"),
                    )
                }),
            }
        }
        match crate::media::media_items(self.app, self.workspace_id, &content.all_media()).await {
            Ok(_) => {}
            Err(MediaError::Unknown(ids)) => {
                for id in ids {
                    problems.push(problem(
                        "media",
                        "unknown-media",
                        format!("no media `{id}` in this workspace"),
                    ));
                }
            }
            Err(e) => return Err(e.into()),
        }
        let post_id = uuid::Uuid::now_v7().to_string();
        // The platforms judge the content only once the post itself holds together.
        if problems.is_empty() {
            let post = Post {
                id: post_id.clone(),
                workspace_id: self.workspace_id.to_string(),
                created_by: Some(self.user_id.to_string()),
                content: content.clone(),
                targets: Vec::new(),
                version: 1,
                created_at: now,
                updated_at: now,
            };
            for t in &targets {
                let target = Target {
                    id: t.id.clone(),
                    account_id: t.account_id.clone(),
                    plugin: t.plugin.clone(),
                    status: "draft".into(),
                    remote_id: None,
                    remote_url: None,
                    last_error: None,
                    deferred_reason: None,
                    updated_at: now,
                };
                for p in check::target(self.app, self.workspace_id, &post, &target).await? {
                    problems.push(RowProblem {
                        field: p.field,
                        code: p.code,
                        message: p.message,
                        account_id: Some(t.account_id.clone()),
                    });
                }
            }
        }
        let zone_name = f
            .timezone
            .clone()
            .unwrap_or_else(|| self.default_zone.to_string());
        let zone = match parse_zone(&zone_name) {
            Ok(z) => Some(z),
            Err(m) => {
                problems.push(problem("timezone", "invalid-timezone", m));
                None
            }
        };
        let mut schedule = None;
        if let Some(text) = &f.scheduled_at_local {
            match parse_local(text) {
                Err(m) => problems.push(problem("scheduled_at_local", "invalid-time", m)),
                Ok(local) => {
                    if let Some(zone) = zone {
                        let r = resolve(local, zone);
                        if r.at <= now {
                            problems.push(problem(
                                "scheduled_at_local",
                                "in-past",
                                format!("{local} in {zone_name} has passed"),
                            ));
                        }
                        schedule = Some((
                            r.at,
                            zone_name.clone(),
                            local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                        ));
                    }
                }
            }
        }
        let ready = problems.is_empty().then_some(Ready {
            post_id,
            content,
            targets,
            schedule,
        });
        Ok((problems, ready))
    }

    /// Flags a row whose text, targets and instant equal an earlier row's or a post
    /// already scheduled.
    async fn flag_duplicates(
        &self,
        checked: &mut [(Parsed, Vec<RowProblem>, Option<Ready>)],
    ) -> Result<()> {
        let mut first_row: HashMap<(String, Vec<String>, Option<i64>), usize> = HashMap::new();
        for (parsed, problems, ready) in checked.iter_mut() {
            let Some(r) = ready.as_ref() else { continue };
            let key = r.key();
            if let Some(row) = first_row.get(&key) {
                problems.push(problem(
                    "row",
                    "duplicate",
                    format!("same text, targets and time as row {row}"),
                ));
            } else if let Some(at_ms) = key.2 {
                let twins =
                    post_batches::scheduled_twins(&self.app.db, self.workspace_id, &key.0, at_ms)
                        .await?;
                if let Some((post, _)) = twins.into_iter().find(|(_, accounts)| {
                    let mut accounts = accounts.clone();
                    accounts.sort();
                    accounts == key.1
                }) {
                    problems.push(problem(
                        "row",
                        "duplicate",
                        format!("same text, targets and time as scheduled post `{post}`"),
                    ));
                }
            }
            first_row.entry(key).or_insert(parsed.row);
            if !problems.is_empty() {
                *ready = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_in_any_order_with_lists_and_options() {
        let csv = "\u{feff}Targets,text,options,media,scheduled_at_local\n\
                   a1|a2 a3,\"Hello, world\nsecond line\",visibility=unlisted; lang=en,m1|m2,2027-01-01 09:00\n\
                   a1,Plain,,,\n";
        let rows = parse_csv(csv.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        let r = &rows[0].fields;
        assert_eq!(r.targets, ["a1", "a2", "a3"]);
        assert_eq!(r.text, "Hello, world\nsecond line");
        assert_eq!(r.media, ["m1", "m2"]);
        assert_eq!(r.options["visibility"], "unlisted");
        assert_eq!(r.options["lang"], "en");
        assert_eq!(r.scheduled_at_local.as_deref(), Some("2027-01-01 09:00"));
        assert_eq!((rows[0].row, rows[0].line), (1, Some(2)));
        assert_eq!((rows[1].row, rows[1].line), (2, Some(4)));
        assert_eq!(rows[1].fields.scheduled_at_local, None);
    }

    #[test]
    fn bad_options_are_a_row_problem() {
        let rows = parse_csv(b"text,targets,options\nhi,a1,novalue\nhi,a1,a=1;a=2\n").unwrap();
        assert_eq!(rows[0].problems[0].field, "options");
        assert!(rows[1].problems[0].message.contains("twice"));
    }

    #[test]
    fn malformed_and_invalid_csv() {
        assert!(matches!(
            parse_csv(b"text,targets\nhi,a1,extra\n"),
            Err(FormatError::MalformedCsv { line: 2, .. })
        ));
        assert!(matches!(
            parse_csv(b"text,targets,colour\nhi,a1,red\n"),
            Err(FormatError::Invalid(m)) if m.contains("colour")
        ));
        assert!(matches!(
            parse_csv(b"text\nhi\n"),
            Err(FormatError::Invalid(_))
        ));
        assert!(matches!(
            parse_csv(b"text,targets\n"),
            Err(FormatError::Empty)
        ));
        assert!(matches!(
            parse_csv(b"text,targets\n\xff\xfe,a1\n"),
            Err(FormatError::MalformedCsv { .. })
        ));
        let many = format!("text,targets\n{}", "hi,a1\n".repeat(MAX_ROWS + 1));
        assert!(matches!(
            parse_csv(many.as_bytes()),
            Err(FormatError::TooManyRows)
        ));
    }

    #[test]
    fn json_imports() {
        let rows = parse_json(
            br#"{"posts": [{"text": "hi", "targets": ["a1"], "options": {"visibility": "public"}}]}"#,
        )
        .unwrap();
        assert_eq!(rows[0].fields.targets, ["a1"]);
        assert!(matches!(
            parse_json(b"{\"posts\": [{\"text\": 1}]}"),
            Err(FormatError::Invalid(_))
        ));
        assert!(matches!(
            parse_json(b"{\"posts\": [{\"colour\": \"red\"}]}"),
            Err(FormatError::Invalid(_))
        ));
        assert!(matches!(
            parse_json(b"{\"posts\": ["),
            Err(FormatError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json(b"{\"posts\": []}"),
            Err(FormatError::Empty)
        ));
    }
}
