//! LinkedIn end to end: the real server's HTTP API → jobs → the `linkedin` plugin → the
//! LinkedIn simulator, for every post kind (text, image, multi-image, video) as the member
//! and as an organization, and the failure paths (expired token refreshed, throttle
//! deferred with LinkedIn's reset, over-limit content refused by validate, an interrupted
//! video part resumed without re-sending acknowledged parts).

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, jpeg, png_tinted};
use plugboard_e2e::test_server;
use plugboard_simulators::linkedin::{LinkedinFault, LinkedinFaultAction, LinkedinRequest};
use plugboard_simulators::{LinkedinConfig, LinkedinSim};
use serde_json::{Value, json};

struct Ctx {
    studio: Studio,
    sim: LinkedinSim,
    member: String,
    org: String,
}

impl std::ops::Deref for Ctx {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

impl Ctx {
    /// Polls until the target satisfies `done` (for at most a minute), failing fast on a
    /// target that failed, is in doubt or paused; returns it and every status seen.
    async fn wait_for(&self, post_id: &str, done: impl Fn(&Value) -> bool) -> (Value, Vec<String>) {
        self.studio
            .wait(post_id, 60, platform::fail_fast(done), || {
                format!("{:?}", self.sequence(0))
            })
            .await
    }

    async fn published(&self, post_id: &str) -> (Value, Vec<String>) {
        self.wait_for(post_id, |t| t["status"] == "published").await
    }

    /// The simulator's requests from `since` on, as `METHOD path` with upload ids and
    /// signatures left out, and their statuses.
    fn sequence(&self, since: usize) -> Vec<(String, u16)> {
        self.sim.requests()[since..]
            .iter()
            .map(|r| (shape(r), r.status.unwrap_or(0)))
            .collect()
    }
}

/// `PUT /dms-uploads/video/D5610AQ…/part/1?sig=…` → `PUT /dms-uploads/video/part/1`.
fn shape(r: &LinkedinRequest) -> String {
    let path = if let Some(rest) = r.path.strip_prefix("/dms-uploads/video/") {
        format!(
            "/dms-uploads/video/part/{}",
            rest.rsplit('/').next().unwrap()
        )
    } else if r.path.starts_with("/dms-uploads/image/") {
        "/dms-uploads/image".into()
    } else if r.path.starts_with("/rest/videos/") {
        "/rest/videos/{urn}".into()
    } else {
        r.path.clone()
    };
    match (&r.query, r.path.starts_with("/dms-uploads/")) {
        (Some(q), false) => format!("{} {path}?{q}", r.method),
        _ => format!("{} {path}", r.method),
    }
}

fn seq(items: &[(&str, u16)]) -> Vec<(String, u16)> {
    items.iter().map(|(s, c)| (s.to_string(), *c)).collect()
}

async fn setup(adjust: impl FnOnce(&mut LinkedinConfig)) -> Ctx {
    let server = test_server().await;
    platform::install(&server, "linkedin").await;
    let mut config = LinkedinConfig {
        redirect_uris: vec![format!("{}/api/v1/accounts/callback", server.base)],
        video_processing_ms: 1500,
        ..LinkedinConfig::default()
    };
    adjust(&mut config);
    let sim = LinkedinSim::start(config.clone()).await.unwrap();
    let studio = Studio::open(server, "owner@example.com", "Studio").await;
    let app = studio
        .create_app(
            "linkedin",
            "Our LinkedIn app",
            json!({"client_id": config.client_id, "client_secret": config.client_secret, "api_url": sim.base_url(), "oauth_url": sim.base_url(), "organizations": "true"}),
        )
        .await;
    let connection = studio.connect_oauth("linkedin", &app["id"]).await;
    assert!(
        connection.callback.contains("code="),
        "{}",
        connection.callback
    );
    let accounts = studio.accounts().await;
    let list = accounts["accounts"].as_array().unwrap();
    let member = list
        .iter()
        .find(|a| a["kind"] == "user")
        .unwrap_or_else(|| panic!("{accounts}"));
    assert_eq!(member["status"], "active", "{accounts}");
    assert_eq!(member["display_name"], "Ada Lovelace");
    let org = list
        .iter()
        .find(|a| a["kind"] == "organization")
        .unwrap_or_else(|| panic!("{accounts}"));
    assert_eq!(org["display_name"], "Analytical Engines Ltd");
    let member_id = member["id"].as_str().unwrap().to_string();
    let (status, chosen) = send(
        client()
            .post(studio.url(&format!("/accounts/{member_id}/select")))
            .bearer_auth(&studio.token)
            .json(&json!({"remote_ids": ["organization:2414183"]})),
    )
    .await;
    assert_eq!(status, 200, "{chosen}");
    Ctx {
        member: member_id,
        org: org["id"].as_str().unwrap().to_string(),
        studio,
        sim,
    }
}

/// A 4-second 320×240 H.264 MP4 made by ffmpeg's test source.
fn mp4() -> Vec<u8> {
    platform::mp4(320, 240, 4)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_image_and_multi_image_as_member_and_organization() {
    let c = setup(|_| {}).await;

    // Text as the member; reserved little-text characters arrive escaped.
    let start = c.sim.requests().len();
    let post = c
        .post(&
            json!({"kind": "text", "text": "Launch day (v2) #shipping @team", "targets": [c.member],
        "variants": {"linkedin": {"options": {"visibility": "CONNECTIONS"}}}}),
        )
        .await;
    c.publish_now(&post).await;
    let (target, _) = c.published(&post).await;
    assert_eq!(c.sequence(start), seq(&[("POST /rest/posts", 201)]));
    let li = c.sim.posts();
    assert_eq!(li[0].author, "urn:li:person:782bbtaQ");
    assert_eq!(li[0].commentary, r"Launch day \(v2\) \#shipping \@team");
    assert_eq!(li[0].text, "Launch day (v2) #shipping @team");
    assert_eq!(li[0].visibility, "CONNECTIONS");
    assert_eq!(target["remote_id"].as_str(), Some(li[0].urn.as_str()));
    let create = &c.sim.requests()[start];
    assert_eq!(create.linkedin_version.as_deref(), Some("202611"));
    assert_eq!(create.restli_protocol_version.as_deref(), Some("2.0.0"));

    // One image as the organization.
    let image = c
        .upload(
            "cover.png",
            "image/png",
            png_tinted(640, 480, 10),
            Some("The cover"),
        )
        .await;
    let start = c.sim.requests().len();
    let post = c.post(&json!({"kind": "image", "text": "Our new engine", "media": [image], "targets": [c.org]})).await;
    c.publish_now(&post).await;
    c.published(&post).await;
    assert_eq!(
        c.sequence(start),
        seq(&[
            ("POST /rest/images?action=initializeUpload", 200),
            ("PUT /dms-uploads/image", 201),
            ("POST /rest/posts", 201)
        ])
    );
    let li = c.sim.posts();
    assert_eq!(li[1].author, "urn:li:organization:2414183");
    assert_eq!(li[1].content, "media");
    assert_eq!(li[1].alt_texts, vec![Some("The cover".to_string())]);

    // Three images as the member.
    let mut ids = Vec::new();
    for shade in [20u8, 40] {
        ids.push(
            c.upload(
                "a.png",
                "image/png",
                png_tinted(300, 200, shade),
                Some("A photo"),
            )
            .await,
        );
    }
    ids.push(
        c.upload("b.jpg", "image/jpeg", jpeg(200, 300), Some("Another photo"))
            .await,
    );
    let start = c.sim.requests().len();
    let post = c.post(&json!({"kind": "multi-image", "text": "Three views", "media": ids, "targets": [c.member]})).await;
    c.publish_now(&post).await;
    c.published(&post).await;
    let image_steps = [
        ("POST /rest/images?action=initializeUpload", 200),
        ("PUT /dms-uploads/image", 201),
    ];
    let mut expected: Vec<(&str, u16)> = image_steps.iter().cycle().take(6).copied().collect();
    expected.push(("POST /rest/posts", 201));
    assert_eq!(c.sequence(start), seq(&expected));
    let li = c.sim.posts();
    assert_eq!(li[2].content, "multiImage");
    assert_eq!(li[2].media.len(), 3);
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_resumes_an_interrupted_part_and_publishes_after_processing() {
    let clip = mp4();
    let part = 8 * 1024;
    let parts = clip.len().div_ceil(part);
    assert!(parts >= 3, "the clip is only {} bytes", clip.len());
    let c = setup(|cfg| cfg.video_part_bytes = part as u64).await;
    let video = c
        .upload(
            "clip.mp4",
            "video/mp4",
            clip.clone(),
            Some("A test pattern"),
        )
        .await;
    // The second part's upload breaks once: only that part is sent again.
    c.sim.inject(
        LinkedinFault::new(
            "PUT",
            "/dms-uploads/video/",
            LinkedinFaultAction::ServerError {
                status: 500,
                body: "upload interrupted".into(),
            },
        )
        .after(1),
    );
    let start = c.sim.requests().len();
    let post = c
        .post(
            &json!({"kind": "video", "text": "Watch this", "media": [video], "targets": [c.member],
        "variants": {"linkedin": {"options": {"title": "Test pattern"}}}}),
        )
        .await;
    c.publish_now(&post).await;
    let (_, seen) = c.published(&post).await;
    assert!(seen.iter().any(|s| s == "pending"), "{seen:?}");
    let got = c.sequence(start);
    let mut expected = vec![
        ("POST /rest/videos?action=initializeUpload".to_string(), 200),
        ("PUT /dms-uploads/video/part/0".into(), 200),
    ];
    expected.push(("PUT /dms-uploads/video/part/1".into(), 500));
    for n in 1..parts {
        expected.push((format!("PUT /dms-uploads/video/part/{n}"), 200));
    }
    expected.push(("POST /rest/videos?action=finalizeUpload".into(), 200));
    assert_eq!(got[..expected.len()], expected[..], "{got:?}");
    let rest = &got[expected.len()..];
    let (last, polls) = rest.split_last().unwrap();
    assert_eq!(last, &("POST /rest/posts".to_string(), 201), "{got:?}");
    assert!(
        !polls.is_empty()
            && polls
                .iter()
                .all(|p| p == &("GET /rest/videos/{urn}".to_string(), 200)),
        "{got:?}"
    );
    // Bytes on the wire: every part once, the broken one twice, nothing else again.
    let sent: usize = c.sim.requests()[start..]
        .iter()
        .filter(|r| r.path.starts_with("/dms-uploads/video/"))
        .map(|r| r.body_len)
        .sum();
    assert_eq!(sent, clip.len() + part);
    let li = c.sim.posts();
    assert_eq!(li[0].content, "media");
    assert!(li[0].media[0].starts_with("urn:li:video:"));
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_token_is_refreshed_and_the_publish_retried() {
    let c = setup(|_| {}).await;
    c.sim.expire_tokens();
    let start = c.sim.requests().len();
    let post = c
        .post(&json!({"kind": "text", "text": "After a refresh", "targets": [c.member]}))
        .await;
    c.publish_now(&post).await;
    c.published(&post).await;
    assert_eq!(
        c.sequence(start),
        seq(&[
            ("POST /rest/posts", 401),
            ("POST /oauth/v2/accessToken", 200),
            ("POST /rest/posts", 201)
        ])
    );
    let refresh = &c.sim.requests()[start + 1];
    assert!(
        refresh
            .body
            .as_deref()
            .unwrap()
            .contains("grant_type=refresh_token"),
        "{refresh:?}"
    );
    c.studio.server.running.stop().await;
}

/// An organization posts with its administrator's token: an expired token is refreshed on
/// the member account (the parent) and the organization's publish retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organizations_expired_token_is_refreshed_through_its_parent() {
    let c = setup(|_| {}).await;
    c.sim.expire_tokens();
    let start = c.sim.requests().len();
    let post = c
        .post(&json!({"kind": "text", "text": "Org after a refresh", "targets": [c.org]}))
        .await;
    c.publish_now(&post).await;
    c.published(&post).await;
    assert_eq!(
        c.sequence(start),
        seq(&[
            ("POST /rest/posts", 401),
            ("POST /oauth/v2/accessToken", 200),
            ("POST /rest/posts", 201)
        ])
    );
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_defers_until_linkedins_reset() {
    let c = setup(|_| {}).await;
    c.sim.inject(LinkedinFault::new(
        "POST",
        "/rest/posts",
        LinkedinFaultAction::RateLimited {
            reset_after_secs: 5400,
        },
    ));
    let post = c
        .post(&json!({"kind": "text", "text": "Throttled", "targets": [c.member]}))
        .await;
    c.publish_now(&post).await;
    let (target, _) = c
        .wait_for(&post, |t| {
            t["deferred_reason"].is_string() && t["status"] == "queued"
        })
        .await;
    let reason = target["deferred_reason"].as_str().unwrap();
    assert!(reason.contains("5400 s"), "{reason}");
    assert!(reason.contains("throttle"), "{reason}");
    assert!(c.sim.posts().is_empty());
    c.studio.server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_refuses_what_linkedin_would() {
    let c = setup(|_| {}).await;
    let image = c
        .upload("one.png", "image/png", png_tinted(64, 64, 1), Some("One"))
        .await;
    let long = "é".repeat(3001);
    let check = |post: String| {
        let c = &c;
        async move {
            let (status, report) = send(
                client()
                    .post(c.url(&format!("/posts/{post}/validate")))
                    .bearer_auth(&c.token),
            )
            .await;
            assert_eq!(status, 200, "{report}");
            assert_eq!(report["valid"], false, "{report}");
            report["targets"][0]["problems"].clone()
        }
    };
    let problems = check(
        c.post(&json!({"kind": "text", "text": long, "targets": [c.member]}))
            .await,
    )
    .await;
    assert_eq!(problems[0]["code"], "text-too-long", "{problems}");
    assert_eq!(
        problems[0]["message"],
        "LinkedIn allows 3000 characters; this text counts 3001 (1 too many)"
    );
    let problems = check(c.post(&json!({"kind": "multi-image", "text": "Just one", "media": [image], "targets": [c.member]})).await).await;
    assert!(
        problems
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "too-few-media"),
        "{problems}"
    );
    let problems = check(c.post(&json!({"kind": "text", "text": "Hi", "targets": [c.org], "variants": {"linkedin": {"options": {"visibility": "CONNECTIONS"}}}})).await).await;
    assert_eq!(problems[0]["field"], "options.visibility", "{problems}");
    assert!(c.sim.requests().iter().all(|r| r.path != "/rest/posts"));
    c.studio.server.running.stop().await;
}
