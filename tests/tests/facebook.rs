//! Facebook Pages end to end: the real server driven over its HTTP API (Facebook Login
//! through the simulator, Page selection, media upload, posts scheduled now) → publish
//! job → the `facebook` plugin → the Facebook simulator, whose record shows the exact
//! protocol sequence. Plus the failure paths: an expired Page token refreshed and the
//! publish retried, throttling deferred until Facebook's regain time, content over the
//! limits refused by validate, and a resumable video upload cut off and resumed.

use plugboard_e2e::api::{client, send};
use plugboard_e2e::platform::{self, Studio, jpeg, mp4};
use plugboard_e2e::test_server;
use plugboard_simulators::facebook::RecordedPost;
use plugboard_simulators::graph::{Fault, FaultAction};
use plugboard_simulators::{FacebookConfig, FacebookSim};
use serde_json::{Value, json};

struct Fb {
    studio: Studio,
    sim: FacebookSim,
    page_id: String,
    /// The Page's account id in the workspace.
    page: String,
}

impl std::ops::Deref for Fb {
    type Target = Studio;
    fn deref(&self) -> &Studio {
        &self.studio
    }
}

impl Fb {
    /// `METHOD route` of each request from `from` on, numeric ids written as `{id}`, the Page as `{page}`.
    fn lines(&self, from: usize) -> Vec<String> {
        let app = &self.sim.config().app_id;
        self.sim.requests()[from..]
            .iter()
            .map(|r| {
                let route = r
                    .route
                    .replace(&self.page_id, "{page}")
                    .replace(app, "{app}");
                let route: Vec<String> = route
                    .split('/')
                    .map(|seg| {
                        if seg.starts_with("upload:") {
                            "upload:{sid}".to_string()
                        } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                            "{id}".to_string()
                        } else {
                            seg.to_string()
                        }
                    })
                    .collect();
                format!("{} {}", r.method, route.join("/"))
            })
            .collect()
    }

    async fn upload(&self, name: &str, mime: &str, bytes: Vec<u8>) -> String {
        self.studio.upload(name, mime, bytes, None).await
    }

    /// Creates a post targeting the Page; returns its id.
    async fn create(&self, mut body: Value) -> String {
        body["targets"] = json!([self.page]);
        self.studio.post(&body).await
    }

    async fn wait_for(&self, post: &str, done: impl Fn(&Value) -> bool) -> Value {
        self.studio
            .wait(post, 60, done, || format!("{:#?}", self.lines(0)))
            .await
            .0
    }

    /// Publishes `body` now and waits for `published`; returns the target and where the
    /// publish's requests start in the record.
    async fn publish(&self, body: Value) -> (Value, usize) {
        let post = self.create(body).await;
        let from = self.sim.requests().len();
        self.publish_now(&post).await;
        let t = self
            .wait_for(&post, |t| {
                matches!(
                    t["status"].as_str(),
                    Some("published" | "failed" | "paused" | "in_doubt")
                )
            })
            .await;
        assert_eq!(
            t["status"],
            "published",
            "{t}; requests {:#?}",
            self.lines(from)
        );
        (t, from)
    }

    /// The simulator's post `remote_id`.
    fn recorded(&self, remote_id: &str) -> RecordedPost {
        self.sim
            .posts()
            .into_iter()
            .find(|p| p.id == remote_id)
            .unwrap_or_else(|| panic!("no post {remote_id} at the simulator"))
    }
}

/// A server with the plugin, a simulator, an app, and a Page connected and selected
/// through the API.
async fn setup(settings: Value) -> Fb {
    let server = test_server().await;
    platform::install(&server, "facebook").await;
    let sim = FacebookSim::start(FacebookConfig {
        processing_ms: 300,
        ..FacebookConfig::default()
    })
    .await
    .unwrap();
    let studio = Studio::open(server, "owner@example.com", "Bakery").await;
    let mut all = json!({
        "client_id": sim.config().app_id,
        "client_secret": sim.config().app_secret,
        "graph_url": sim.base_url(),
        "webhook_verify_token": "verify-me",
    });
    for (k, v) in settings.as_object().unwrap() {
        all[k] = v.clone();
    }
    let app = studio.create_app("facebook", "Our Facebook app", all).await;
    studio.connect_oauth("facebook", &app["id"]).await;
    let accounts = studio.accounts().await;
    let list = accounts["accounts"].as_array().unwrap();
    let user = list
        .iter()
        .find(|a| a["kind"] == "user")
        .unwrap_or_else(|| panic!("{accounts}"));
    let pages = sim.pages();
    assert_eq!(
        list.iter().filter(|a| a["kind"] == "page").count(),
        pages.len(),
        "every Page is offered: {accounts}"
    );
    let page_id = pages[0].id.clone();
    let (status, selected) = send(
        client()
            .post(studio.url(&format!(
                "/accounts/{}/select",
                user["id"].as_str().unwrap()
            )))
            .bearer_auth(&studio.token)
            .json(&json!({"remote_ids": [page_id]})),
    )
    .await;
    assert_eq!(status, 200, "{selected}");
    let page = selected["accounts"][0]["id"].as_str().unwrap().to_string();
    // The connection spoke Facebook Login: code exchange, long-lived exchange, the user,
    // the Pages.
    let lines: Vec<String> = sim.requests().iter().map(|r| r.line()).collect();
    assert_eq!(
        lines,
        [
            "GET /dialog/oauth",
            "GET /oauth/access_token",
            "GET /oauth/access_token",
            "GET /me",
            "GET /me/accounts"
        ]
    );
    assert!(sim.requests()[3..].iter().all(|r| r.has_appsecret_proof));
    Fb {
        studio,
        sim,
        page_id,
        page,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_link_posts_reach_the_page_feed() {
    let fb = setup(json!({})).await;
    let (t, from) = fb
        .publish(json!({"kind": "text", "text": "Fresh bread at 7", "options": {"link": "https://example.com/menu"}}))
        .await;
    assert_eq!(fb.lines(from), ["POST /{page}/feed"]);
    let post = fb.recorded(t["remote_id"].as_str().unwrap());
    assert_eq!(post.kind, "status");
    assert_eq!(post.message.as_deref(), Some("Fresh bread at 7"));
    assert_eq!(post.link.as_deref(), Some("https://example.com/menu"));
    let call = &fb.sim.requests()[from];
    assert!(call.has_appsecret_proof && call.token_scheme.as_deref() == Some("param"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_pulled_by_url_single_and_multi() {
    let fb = setup(json!({})).await;
    let one = jpeg(800, 600);
    let one_len = one.len();
    let media = fb.upload("one.jpg", "image/jpeg", one).await;
    let (t, from) = fb
        .publish(json!({"kind": "image", "text": "Croissants", "media": [media]}))
        .await;
    assert_eq!(fb.lines(from), ["POST /{page}/photos"]);
    let post = fb.recorded(t["remote_id"].as_str().unwrap());
    assert_eq!(
        (post.kind.as_str(), post.message.as_deref()),
        ("photo", Some("Croissants"))
    );
    let sizes = fb.sim.photo_sizes();
    assert_eq!(
        sizes.iter().find(|(id, _)| *id == post.media[0]).unwrap().1,
        one_len,
        "the simulator fetched the whole file"
    );

    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            fb.upload(&format!("p{i}.jpg"), "image/jpeg", jpeg(640 + i * 10, 480))
                .await,
        );
    }
    let (t, from) = fb
        .publish(json!({"kind": "image", "text": "Three loaves", "media": ids}))
        .await;
    assert_eq!(
        fb.lines(from),
        [
            "POST /{page}/photos",
            "POST /{page}/photos",
            "POST /{page}/photos",
            "POST /{page}/feed"
        ]
    );
    let reqs = fb.sim.requests();
    assert!(
        reqs[from..from + 3]
            .iter()
            .all(|r| r.params.get("published").map(String::as_str) == Some("false"))
    );
    let post = fb.recorded(t["remote_id"].as_str().unwrap());
    assert_eq!((post.kind.as_str(), post.media.len()), ("album", 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_go_through_the_resumable_upload_api() {
    let fb = setup(json!({"upload_chunk_bytes": "8192"})).await;
    let file = mp4(640, 360, 3);
    let size = file.len();
    let media = fb.upload("clip.mp4", "video/mp4", file).await;
    let (t, from) = fb
        .publish(json!({"kind": "video", "text": "How we bake", "media": [media], "options": {"title": "Bakery tour"}}))
        .await;
    let chunks = size.div_ceil(8192);
    let mut expected = vec![
        "POST /{app}/uploads".to_string(),
        "GET /upload:{sid}".to_string(),
    ];
    expected.extend(std::iter::repeat_n(
        "POST /upload:{sid}".to_string(),
        chunks,
    ));
    expected.push("POST /{page}/videos".into());
    let lines = fb.lines(from);
    assert_eq!(lines[..expected.len()], expected[..], "{lines:#?}");
    assert!(
        lines[expected.len()..].iter().all(|l| l == "GET /{id}"),
        "then status polls: {lines:#?}"
    );
    let reqs = fb.sim.requests();
    let uploads: Vec<_> = reqs[from..]
        .iter()
        .filter(|r| r.method == "POST" && r.route.starts_with("/upload:"))
        .collect();
    assert!(
        uploads
            .iter()
            .all(|r| r.token_scheme.as_deref() == Some("OAuth"))
    );
    assert_eq!(uploads.iter().map(|r| r.body_bytes).sum::<usize>(), size);
    let remote = t["remote_id"].as_str().unwrap();
    assert_eq!(fb.sim.video_bytes(remote), Some(size));
    assert_eq!(fb.recorded(remote).message.as_deref(), Some("How we bake"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_video_upload_resumes_from_the_acknowledged_offset() {
    let fb = setup(json!({"upload_chunk_bytes": "8192"})).await;
    let file = mp4(640, 360, 3);
    let size = file.len();
    assert!(
        size > 2 * 8192,
        "the clip spans several chunks: {size} bytes"
    );
    let media = fb.upload("clip.mp4", "video/mp4", file).await;
    fb.sim.inject(Fault::new(
        "POST",
        "/upload:",
        FaultAction::InterruptUpload { keep_bytes: 3_000 },
    ));
    let (t, from) = fb
        .publish(json!({"kind": "video", "text": "Resumed", "media": [media]}))
        .await;
    let reqs = fb.sim.requests();
    let session: Vec<_> = reqs[from..]
        .iter()
        .filter(|r| r.route.starts_with("/upload:"))
        .collect();
    // POST (cut off after 3,000 bytes) → GET the offset → POST from 3,000 on.
    assert_eq!(session[1].line().split(':').next(), Some("POST /upload"));
    assert_eq!(session[1].upload_headers["file_offset"], "0");
    assert_eq!(session[1].body_bytes, 3_000);
    assert!(session[2].method == "GET", "{session:#?}");
    assert_eq!(session[3].upload_headers["file_offset"], "3000");
    let mut expected_offset = 0;
    for r in session.iter().filter(|r| r.method == "POST") {
        assert_eq!(
            r.upload_headers["file_offset"],
            expected_offset.to_string(),
            "no acknowledged byte is sent again"
        );
        expected_offset += r.body_bytes;
    }
    assert_eq!(expected_offset, size);
    assert_eq!(
        fb.sim.video_bytes(t["remote_id"].as_str().unwrap()),
        Some(size)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reels_go_start_upload_finish_then_processing() {
    let fb = setup(json!({})).await;
    let file = mp4(540, 960, 3);
    let size = file.len();
    let media = fb.upload("reel.mp4", "video/mp4", file).await;
    let (t, from) = fb
        .publish(json!({"kind": "reel", "text": "Morning shift", "media": [media]}))
        .await;
    let lines = fb.lines(from);
    assert_eq!(
        lines[..3],
        [
            "POST /{page}/video_reels",
            "POST /video-upload/v25.0/{id}",
            "POST /{page}/video_reels"
        ],
        "{lines:#?}"
    );
    assert!(
        lines[3..].iter().all(|l| l == "GET /{id}") && lines.len() > 3,
        "{lines:#?}"
    );
    let reqs = fb.sim.requests();
    assert_eq!(reqs[from].params["upload_phase"], "start");
    assert_eq!(reqs[from + 1].upload_headers["offset"], "0");
    assert_eq!(reqs[from + 1].upload_headers["file_size"], size.to_string());
    assert_eq!(reqs[from + 2].params["upload_phase"], "finish");
    assert_eq!(reqs[from + 2].params["video_state"], "PUBLISHED");
    let remote = t["remote_id"].as_str().unwrap();
    assert_eq!(fb.sim.video_bytes(remote), Some(size));
    let post = fb.recorded(remote);
    assert_eq!(
        (post.kind.as_str(), post.message.as_deref()),
        ("reel", Some("Morning shift"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photo_stories_use_an_unpublished_photo() {
    let fb = setup(json!({})).await;
    let media = fb.upload("story.jpg", "image/jpeg", jpeg(540, 960)).await;
    let (t, from) = fb
        .publish(json!({"kind": "story", "text": "", "media": [media]}))
        .await;
    assert_eq!(
        fb.lines(from),
        ["POST /{page}/photos", "POST /{page}/photo_stories"]
    );
    assert_eq!(fb.sim.requests()[from].params["published"], "false");
    assert_eq!(
        fb.recorded(t["remote_id"].as_str().unwrap()).kind,
        "photo_story"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_page_token_is_refreshed_and_the_publish_retried() {
    let fb = setup(json!({})).await;
    fb.sim.inject(Fault::new(
        "POST",
        &format!("/{}/feed", fb.page_id),
        FaultAction::ExpireToken,
    ));
    let (t, from) = fb
        .publish(json!({"kind": "text", "text": "After a refresh"}))
        .await;
    assert_eq!(
        fb.lines(from),
        ["POST /{page}/feed", "GET /me/accounts", "POST /{page}/feed"]
    );
    let reqs = fb.sim.requests();
    assert_eq!(
        reqs[from].status,
        Some(400),
        "the expired token was refused"
    );
    assert_eq!(reqs[from + 2].status, Some(200));
    assert_eq!(
        fb.recorded(t["remote_id"].as_str().unwrap())
            .message
            .as_deref(),
        Some("After a refresh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_defers_until_facebooks_regain_time() {
    let fb = setup(json!({})).await;
    fb.sim.inject(Fault::new(
        "POST",
        &format!("/{}/feed", fb.page_id),
        FaultAction::Throttled {
            code: 32,
            regain_minutes: 7,
        },
    ));
    let post = fb
        .create(json!({"kind": "text", "text": "Too many calls"}))
        .await;
    fb.publish_now(&post).await;
    let t = fb
        .wait_for(&post, |t| {
            t["deferred_reason"]
                .as_str()
                .is_some_and(|r| r.contains("rate limit"))
        })
        .await;
    assert_eq!(t["status"], "queued", "{t}");
    let reason = t["deferred_reason"].as_str().unwrap();
    assert!(
        reason.contains("420 s") && reason.contains("Page request limit"),
        "{reason}"
    );
    assert!(fb.sim.posts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_over_the_limits_is_refused_by_validate() {
    let fb = setup(json!({})).await;
    let validate = |post: String| {
        let req = client()
            .post(fb.url(&format!("/posts/{post}/validate")))
            .bearer_auth(&fb.token);
        async move { send(req).await }
    };
    let long = fb
        .create(json!({"kind": "text", "text": "a".repeat(63_207)}))
        .await;
    let (status, report) = validate(long).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["valid"], false);
    let problems = report["targets"][0]["problems"].as_array().unwrap();
    let too_long = problems
        .iter()
        .find(|p| p["code"] == "text-too-long")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(too_long["field"], "text");
    assert_eq!(
        too_long["message"],
        "Facebook allows 63206 characters; this text counts 63207 (1 too many)"
    );

    let landscape = fb.upload("wide.mp4", "video/mp4", mp4(640, 360, 3)).await;
    let reel = fb
        .create(json!({"kind": "reel", "text": "Wide", "media": [landscape]}))
        .await;
    let (_, report) = validate(reel).await;
    assert_eq!(report["valid"], false);
    let problems = report["targets"][0]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p["field"] == "media[0]" && p["message"].as_str().unwrap().contains("640x360")),
        "{report}"
    );
    let story = fb.upload("s.jpg", "image/jpeg", jpeg(540, 960)).await;
    let with_text = fb
        .create(json!({"kind": "story", "text": "Stories carry none", "media": [story]}))
        .await;
    let (_, report) = validate(with_text).await;
    assert!(
        report["targets"][0]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "text-not-supported"),
        "{report}"
    );
    assert!(
        fb.sim.requests().len() == 5,
        "validation made no network call"
    );
}

/// The plugin's engagement exports through the runtime, acting for the connected Page with
/// the context the host builds: comments, replies, insights, deletion, and a signed Meta
/// webhook (plus the verification handshake).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_insights_deletion_and_webhooks() {
    use plugboard_bindings::platform::exports::plugboard::plugin::publisher::{
        WebhookEvent, WebhookRequest,
    };
    let fb = setup(json!({})).await;
    let (t, _) = fb
        .publish(json!({"kind": "text", "text": "Ask us anything"}))
        .await;
    let remote = t["remote_id"].as_str().unwrap().to_string();
    let app = fb.server.app().clone();
    let ws = fb.api.rsplit('/').next().unwrap().to_string();
    let call = |name: &'static str| {
        let (app, ws, page) = (app.clone(), ws.clone(), fb.page.clone());
        async move {
            let ctx = plugboard::accounts::call_context(&app, &ws, &page)
                .await
                .unwrap();
            app.runtime.platform("facebook", name, ctx).await.unwrap()
        }
    };

    let comment = fb.sim.add_comment(&remote, "Bob", "Do you bake rye?");
    let page = call("list-comments")
        .await
        .list_comments(Some(remote.clone()), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.comments.len(), 1);
    assert_eq!(
        (
            page.comments[0].remote_id.as_str(),
            page.comments[0].author_name.as_str(),
            page.comments[0].text.as_str()
        ),
        (comment.as_str(), "Bob", "Do you bake rye?")
    );
    let reply = call("reply-comment")
        .await
        .reply_comment(comment.clone(), "Every Friday!".into())
        .await
        .unwrap()
        .unwrap();
    let stored = fb
        .sim
        .comments()
        .into_iter()
        .find(|c| c.id == reply)
        .unwrap();
    assert_eq!(
        (stored.object_id.as_str(), stored.from_id.as_str()),
        (comment.as_str(), fb.page_id.as_str())
    );

    fb.sim.set_insight(&remote, "post_impressions", 42.0);
    let metrics = call("metrics")
        .await
        .metrics(Some(remote.clone()))
        .await
        .unwrap()
        .unwrap();
    let impressions = metrics
        .iter()
        .find(|m| m.name == "post_impressions")
        .unwrap();
    assert_eq!(impressions.value, 42.0);

    let body = serde_json::to_vec(&json!({"object": "page", "entry": [{"id": fb.page_id, "time": 1_750_000_000, "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "comment_id": "555_777", "post_id": remote, "parent_id": remote,
        "from": {"id": "99", "name": "Carol"}, "message": "Yum", "created_time": 1_750_000_000}}]}]}))
    .unwrap();
    let signature = {
        use sha2::Digest;
        // HMAC-SHA256 by hand (RFC 2104), so the test does not share the plugin's code.
        let key = fb.sim.config().app_secret.as_bytes();
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = sha2::Sha256::digest([ipad.as_slice(), body.as_slice()].concat());
        let outer = sha2::Sha256::digest([opad.as_slice(), inner.as_slice()].concat());
        outer.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let hook = |headers: Vec<(String, String)>, body: Vec<u8>| WebhookRequest {
        method: "POST".into(),
        query: vec![],
        headers,
        body,
    };
    let signed = hook(
        vec![("X-Hub-Signature-256".into(), format!("sha256={signature}"))],
        body.clone(),
    );
    let reply = call("handle-webhook")
        .await
        .handle_webhook(signed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.account_remote_id.as_deref(),
        Some(fb.page_id.as_str())
    );
    let [(key, WebhookEvent::Comment(c))] = reply.events.as_slice() else {
        panic!("one comment event: {:?}", reply.events)
    };
    assert_eq!(
        key,
        &format!("facebook:{}:comment:555_777:add:1750000000", fb.page_id)
    );
    assert_eq!(
        (c.text.as_str(), c.post_remote_id.as_deref()),
        ("Yum", Some(remote.as_str()))
    );
    let forged = hook(
        vec![(
            "X-Hub-Signature-256".into(),
            format!("sha256={}", "0".repeat(64)),
        )],
        body,
    );
    let reply = call("handle-webhook")
        .await
        .handle_webhook(forged)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, reply.events.len()), (401, 0));
    let handshake = WebhookRequest {
        method: "GET".into(),
        query: vec![
            ("hub.mode".into(), "subscribe".into()),
            ("hub.verify_token".into(), "verify-me".into()),
            ("hub.challenge".into(), "1158201444".into()),
        ],
        headers: vec![],
        body: vec![],
    };
    let reply = call("handle-webhook")
        .await
        .handle_webhook(handshake)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reply.status, reply.body), (200, b"1158201444".to_vec()));

    call("delete")
        .await
        .delete(remote.clone())
        .await
        .unwrap()
        .unwrap();
    assert!(fb.recorded(&remote).deleted);
}

/// One refresh of an account at a time, whoever asks: four refreshes of the Page at once
/// (API requests standing in for several workers) reach Facebook once; the others wait for
/// it and answer with its result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_of_one_account_reach_the_platform_once() {
    let fb = setup(json!({})).await;
    // Slow enough that the four requests overlap.
    fb.sim.inject(Fault::new(
        "GET",
        "/me/accounts",
        FaultAction::Delay { ms: 1_500 },
    ));
    let from = fb.sim.requests().len();
    let url = fb.url(&format!("/accounts/{}/refresh", fb.page));
    let answers =
        futures::future::join_all((0..4).map(|_| send(client().post(&url).bearer_auth(&fb.token))))
            .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert!(body["last_refresh_at"].is_string(), "{body}");
    }
    assert_eq!(fb.lines(from), ["GET /me/accounts"]);
}
