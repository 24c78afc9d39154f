//! Analytics end to end, on SQLite and on PostgreSQL: a published Mastodon post, metrics
//! refreshed by the scheduled sweep and on demand through the API (job → plugin →
//! simulator), stored as time series and answered with date ranges and buckets, scoped to
//! the workspace.

use plugboard_e2e::api::{client, create_workspace, problem, send, signup};
use plugboard_e2e::platform::install;
use plugboard_e2e::scenario::{
    Studio, create_text_post, mastodon_studio, schedule, wait_for_target,
};
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use plugboard_simulators::mastodon::Engagement;
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::Value;
use std::time::Duration;

/// A test server on a fresh PostgreSQL database (`PLUGBOARD_TEST_PG`, started by
/// scripts/pg.sh), so the same scenario runs on both backends.
async fn postgres_server() -> TestServer {
    let url = pg_database().await;
    let server =
        test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await;
    assert!(server.app().db.is_postgres());
    server
}

fn url(base: &str, studio: &Studio, path: &str) -> String {
    format!("{base}/api/v1/workspaces/{}{path}", studio.workspace)
}

/// Polls `GET path` until `done` holds for the body.
async fn wait_for(base: &str, studio: &Studio, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = send(
            client()
                .get(url(base, studio, path))
                .bearer_auth(&studio.token),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting on {path}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn series<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` series in {view}"))
}

fn values(view: &Value, name: &str) -> Vec<f64> {
    series(view, name)["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_refresh_on_schedule_and_on_demand_and_answer_date_ranges() {
    metrics_refresh_on_schedule_and_on_demand_and_answer_date_ranges_on(test_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_refresh_on_schedule_and_on_demand_and_answer_date_ranges_on_postgres() {
    metrics_refresh_on_schedule_and_on_demand_and_answer_date_ranges_on(postgres_server().await)
        .await;
}

async fn metrics_refresh_on_schedule_and_on_demand_and_answer_date_ranges_on(server: TestServer) {
    install(&server, "mastodon").await;
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let base = server.base.clone();
    let studio = mastodon_studio(&base, &sim.base_url(), "owner@example.com").await;
    let post = create_text_post(&base, &studio, "Metrics, please").await;
    schedule(&base, &studio, &post, None).await;
    let target = wait_for_target(&base, &studio, &post, Duration::from_secs(30), |t| {
        t["status"] == "published"
    })
    .await;
    let remote = target["remote_id"].as_str().unwrap().to_string();
    assert!(sim.set_engagement(
        &remote,
        Engagement {
            favourites: 3,
            reblogs: 1
        }
    ));
    sim.set_followers(&MastodonConfig::default().username, 42);

    // The periodic sweep (run here without jitter) queues the account's refresh; the job
    // stores the account's and the post's metrics.
    plugboard::analytics::sweep(server.app(), Duration::ZERO)
        .await
        .unwrap();
    let account_path = format!("/accounts/{}/metrics", studio.account);
    let first = wait_for(&base, &studio, &account_path, |v| {
        !v["series"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(values(&first, "followers"), vec![42.0]);
    assert_eq!(values(&first, "statuses"), vec![1.0]);
    let post_path = format!("/posts/{post}/metrics");
    let post_view = wait_for(&base, &studio, &post_path, |v| {
        !v["series"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(values(&post_view, "favourites"), vec![3.0]);
    assert_eq!(values(&post_view, "reblogs"), vec![1.0]);
    assert_eq!(series(&post_view, "favourites")["target_id"], target["id"]);
    // It just ran: the next sweep leaves the account alone.
    assert_eq!(
        plugboard::analytics::sweep(server.app(), Duration::ZERO)
            .await
            .unwrap(),
        0
    );

    // On demand, after the numbers moved.
    sim.set_followers(&MastodonConfig::default().username, 50);
    assert!(sim.set_engagement(
        &remote,
        Engagement {
            favourites: 7,
            reblogs: 2
        }
    ));
    // The swept refresh may still be finishing (its samples are stored before its job
    // completes): the request is repeated until a new refresh is queued.
    let refresh = url(
        &base,
        &studio,
        &format!("/accounts/{}/metrics/refresh", studio.account),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let queued = loop {
        let (status, body) = send(client().post(&refresh).bearer_auth(&studio.token)).await;
        if status == 202 {
            break body;
        }
        assert_eq!(status, 409, "{body}");
        assert_eq!(
            body["type"], "https://plugboard.dev/problems/refresh-in-flight",
            "{body}"
        );
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(queued["job_id"].is_string());
    let second = wait_for(&base, &studio, &account_path, |v| {
        values(v, "followers").len() == 2
    })
    .await;
    assert_eq!(values(&second, "followers"), vec![42.0, 50.0]);
    assert_eq!(series(&second, "followers")["latest"]["value"], 50.0);
    let post_view = wait_for(&base, &studio, &post_path, |v| {
        values(v, "favourites").len() == 2
    })
    .await;
    assert_eq!(values(&post_view, "favourites"), vec![3.0, 7.0]);

    // The simulator saw the plugin read the account and the status.
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths
            .iter()
            .any(|p| p == &format!("/api/v1/statuses/{remote}")),
        "{paths:?}"
    );

    // Date ranges: one day bucket keeps the last value; a past range is empty.
    let day = wait_for(
        &base,
        &studio,
        &format!("{account_path}?bucket=day"),
        |_| true,
    )
    .await;
    assert_eq!(values(&day, "followers"), vec![50.0]);
    let past = wait_for(
        &base,
        &studio,
        &format!("{account_path}?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z"),
        |_| true,
    )
    .await;
    assert!(past["series"].as_array().unwrap().is_empty(), "{past}");
    problem(
        client()
            .get(url(
                &base,
                &studio,
                &format!("{account_path}?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z"),
            ))
            .bearer_auth(&studio.token),
        400,
        "invalid-range",
    )
    .await;
    problem(
        client()
            .get(url(&base, &studio, &format!("{account_path}?bucket=week")))
            .bearer_auth(&studio.token),
        400,
        "invalid-query",
    )
    .await;

    // Another workspace sees none of it.
    let outsider = signup(&base, "out@example.com").await;
    let elsewhere = create_workspace(&base, &outsider.access_token, "Elsewhere").await;
    for path in [
        format!("/accounts/{}/metrics", studio.account),
        format!("/posts/{post}/metrics"),
    ] {
        problem(
            client()
                .get(format!("{base}/api/v1/workspaces/{elsewhere}{path}"))
                .bearer_auth(&outsider.access_token),
            404,
            "not-found",
        )
        .await;
    }
    problem(
        client()
            .post(format!(
                "{base}/api/v1/workspaces/{elsewhere}/accounts/{}/metrics/refresh",
                studio.account
            ))
            .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;
    server.running.stop().await;
}
