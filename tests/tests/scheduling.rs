//! Scheduling modes over HTTP against the real server and the Mastodon simulator: queue
//! slots per account, recurring posts (RRULE subset) and bulk imports (CSV and JSON).
//!
//! Daylight saving is checked two ways: the 2026 transitions (Europe/Berlin 2026-03-29 and
//! 2026-10-25, America/New_York 2026-03-08 and 2026-11-01) through the endpoints that list
//! slot times and occurrences from a given instant, and the next real transition after
//! today, computed here, through slots actually taken and occurrences actually made.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use plugboard::posts::schedule::parse_zone;
use plugboard::runtime::grants::Grants;
use plugboard::runtime::manifest::Manifest;
use plugboard::runtime::registry::InstallMode;
use plugboard_e2e::api::{
    Session, client, create_workspace, invite_and_join, problem, send, signup,
};
use plugboard_e2e::{TestServer, pg_database, plugin, test_server_with};
use plugboard_simulators::{MastodonConfig, MastodonSim};
use serde_json::{Value, json};
use std::time::Duration;

/// A workspace (zone UTC) with an editor, a viewer and a Mastodon account connected
/// through the simulator, plus an outsider with a workspace of their own.
struct Ctx {
    server: TestServer,
    sim: MastodonSim,
    http: reqwest::Client,
    api: String,
    ws: String,
    editor: Session,
    viewer: Session,
    outsider: Session,
    outsider_ws: String,
    account: String,
}

async fn setup(server: TestServer) -> Ctx {
    let base = server.base.clone();
    let api = format!("{base}/api/v1");
    let http = client();
    let bytes = plugin("mastodon");
    server
        .app()
        .runtime
        .registry
        .install(
            &bytes,
            Some(Grants::requested(
                &Manifest::from_component(&bytes).unwrap(),
            )),
            InstallMode::Install,
        )
        .await
        .unwrap();
    let sim = MastodonSim::start(MastodonConfig::default()).await.unwrap();
    let owner = signup(&base, "owner@example.com").await;
    let ws = create_workspace(&base, &owner.access_token, "Studio").await;
    let editor = invite_and_join(&base, &owner.access_token, &ws, "editor", "ed@example.com").await;
    let viewer = invite_and_join(&base, &owner.access_token, &ws, "viewer", "vi@example.com").await;
    let outsider = signup(&base, "out@example.com").await;
    let outsider_ws = create_workspace(&base, &outsider.access_token, "Elsewhere").await;

    let (status, app_view) = send(
        http.post(format!("{api}/workspaces/{ws}/apps"))
            .bearer_auth(&owner.access_token)
            .json(&json!({"plugin": "mastodon", "name": "Instance", "settings": {"instance_url": sim.base_url()}})),
    )
    .await;
    assert_eq!(status, 201, "{app_view}");
    let (status, started) = send(
        http.post(format!("{api}/workspaces/{ws}/accounts/connect/mastodon"))
            .bearer_auth(&editor.access_token)
            .json(&json!({"app_id": app_view["id"]})),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at_instance = no_redirects
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = at_instance.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let (status, connected) = send(no_redirects.get(&callback)).await;
    assert!(status == 200 || status == 201, "{connected}");
    let (_, accounts) = send(
        http.get(format!("{api}/workspaces/{ws}/accounts"))
            .bearer_auth(&editor.access_token),
    )
    .await;
    let account = accounts["accounts"][0]["id"].as_str().unwrap().to_string();
    Ctx {
        server,
        sim,
        http,
        api,
        ws,
        editor,
        viewer,
        outsider,
        outsider_ws,
        account,
    }
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}/workspaces/{}/{path}", self.api, self.ws)
    }

    async fn get(&self, who: &Session, path: &str) -> (u16, Value) {
        send(self.http.get(self.url(path)).bearer_auth(&who.access_token)).await
    }

    async fn post(&self, who: &Session, path: &str, body: Value) -> (u16, Value) {
        send(
            self.http
                .post(self.url(path))
                .bearer_auth(&who.access_token)
                .json(&body),
        )
        .await
    }

    async fn put(&self, who: &Session, path: &str, body: Value) -> (u16, Value) {
        send(
            self.http
                .put(self.url(path))
                .bearer_auth(&who.access_token)
                .json(&body),
        )
        .await
    }

    /// A draft post to the account; answers its id.
    async fn draft(&self, text: &str) -> String {
        let (status, post) = self
            .post(
                &self.editor,
                "posts",
                json!({"text": text, "targets": [self.account]}),
            )
            .await;
        assert_eq!(status, 201, "{post}");
        post["id"].as_str().unwrap().to_string()
    }

    async fn post_count(&self) -> usize {
        let (status, page) = self.get(&self.editor, "posts?limit=100").await;
        assert_eq!(status, 200, "{page}");
        page["posts"].as_array().unwrap().len()
    }

    /// Waits until every target of the post is published (the worker ran it through the
    /// plugin to the simulator).
    async fn wait_published(&self, post_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, post) = self.get(&self.editor, &format!("posts/{post_id}")).await;
            assert_eq!(status, 200, "{post}");
            if post["targets"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["status"] == "published")
            {
                return post;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "not published in time: {post}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn instant(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn instants(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| instant(&s["at"]).format("%Y-%m-%dT%H:%MZ").to_string())
        .collect()
}

/// The UTC instant of `local` (no gap or repeat) in `zone`.
fn utc_of(zone: &str, local: NaiveDateTime) -> DateTime<Utc> {
    parse_zone(zone)
        .unwrap()
        .from_local_datetime(&local)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The first date, at least `days` days from today, on whose night `zone` changes its UTC
/// offset (a daylight-saving transition): its noon has another offset than the noon before.
fn next_transition(zone: &str, days: u64) -> NaiveDate {
    let tz = parse_zone(zone).unwrap();
    let offset = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
            .single()
            .unwrap()
            .offset()
            .fix()
            .local_minus_utc()
    };
    let today = Utc::now().date_naive();
    (days..days + 800)
        .map(|n| today + Days::new(n))
        .find(|d| offset(*d) != offset(*d - Days::new(1)))
        .unwrap_or_else(|| panic!("{zone} has no transition in two years"))
}

fn at9(date: NaiveDate) -> NaiveDateTime {
    date.and_hms_opt(9, 0, 0).unwrap()
}

async fn queue_slots(c: Ctx) {
    let slots_path = format!("accounts/{}/slots", c.account);
    // Nothing set yet: no slots, in the workspace's zone.
    let (status, empty) = c.get(&c.viewer, &slots_path).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        (
            empty["timezone"].as_str(),
            empty["slots"].as_array().map(Vec::len)
        ),
        (Some("UTC"), Some(0))
    );

    let every_day_9: Vec<Value> = ["sun", "sat", "fri", "thu", "wed", "tue", "mon"]
        .iter()
        .map(|d| json!({"weekday": d, "time": "09:00"}))
        .collect();
    let (status, set) = c
        .put(
            &c.editor,
            &slots_path,
            json!({"timezone": "Europe/Berlin", "slots": every_day_9}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["timezone"], "Europe/Berlin");
    assert_eq!(
        set["slots"][0],
        json!({"weekday": "mon", "time": "09:00"}),
        "sorted Monday first"
    );
    let (_, again) = c.get(&c.viewer, &slots_path).await;
    assert_eq!(again, set);

    // The 2026 transitions: 09:00 stays 09:00 local, the UTC instant moves by an hour.
    let upcoming = |from: &str| format!("{slots_path}/upcoming?from={from}&limit=3");
    let (status, spring) = c.get(&c.viewer, &upcoming("2026-03-27T12:00:00Z")).await;
    assert_eq!(status, 200, "{spring}");
    assert_eq!(
        instants(&spring["slots"]),
        [
            "2026-03-28T08:00Z",
            "2026-03-29T07:00Z",
            "2026-03-30T07:00Z"
        ]
    );
    let locals: Vec<&str> = spring["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["local"].as_str().unwrap())
        .collect();
    assert_eq!(
        locals,
        [
            "2026-03-28T09:00:00",
            "2026-03-29T09:00:00",
            "2026-03-30T09:00:00"
        ]
    );
    let (_, autumn) = c.get(&c.viewer, &upcoming("2026-10-23T12:00:00Z")).await;
    assert_eq!(
        instants(&autumn["slots"]),
        [
            "2026-10-24T07:00Z",
            "2026-10-25T08:00Z",
            "2026-10-26T08:00Z"
        ]
    );
    let (status, ny) = c
        .put(
            &c.editor,
            &slots_path,
            json!({"timezone": "America/New_York", "slots": every_day_9}),
        )
        .await;
    assert_eq!(status, 200, "{ny}");
    let (_, ny_spring) = c.get(&c.viewer, &upcoming("2026-03-07T00:00:00Z")).await;
    assert_eq!(
        instants(&ny_spring["slots"]),
        [
            "2026-03-07T14:00Z",
            "2026-03-08T13:00Z",
            "2026-03-09T13:00Z"
        ]
    );
    let (_, ny_autumn) = c.get(&c.viewer, &upcoming("2026-10-31T00:00:00Z")).await;
    assert_eq!(
        instants(&ny_autumn["slots"]),
        [
            "2026-10-31T13:00Z",
            "2026-11-01T14:00Z",
            "2026-11-02T14:00Z"
        ]
    );
    // A slot in the spring gap moves forward, as one-off schedules do.
    let (_, gap) = c
        .put(
            &c.editor,
            &slots_path,
            json!({"timezone": "Europe/Berlin", "slots": [{"weekday": "sun", "time": "02:30"}]}),
        )
        .await;
    assert_eq!(gap["slots"].as_array().unwrap().len(), 1);
    let (_, gap) = c
        .get(
            &c.viewer,
            &format!("{slots_path}/upcoming?from=2026-03-28T00:00:00Z&limit=1"),
        )
        .await;
    assert_eq!(instants(&gap["slots"]), ["2026-03-29T01:30Z"]);
    assert!(
        gap["slots"][0]["note"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{gap}"
    );

    // Queue for real across the next Berlin transition: each post takes the next free
    // slot; the local time stays 09:00 while the UTC hour moves.
    c.put(
        &c.editor,
        &slots_path,
        json!({"timezone": "Europe/Berlin", "slots": every_day_9}),
    )
    .await;
    let day = next_transition("Europe/Berlin", 3);
    let before = day - Days::new(1);
    let after = format!("{}T00:00:00Z", before.format("%Y-%m-%d"));
    let (a, b, d) = (
        c.draft("first").await,
        c.draft("second").await,
        c.draft("third").await,
    );
    let (status, qa) = c
        .post(
            &c.editor,
            &format!("posts/{a}/queue"),
            json!({"after": after}),
        )
        .await;
    assert_eq!(status, 200, "{qa}");
    let (_, qb) = c
        .post(
            &c.editor,
            &format!("posts/{b}/queue"),
            json!({"after": after}),
        )
        .await;
    let (_, qd) = c
        .post(
            &c.editor,
            &format!("posts/{d}/queue"),
            json!({"after": after}),
        )
        .await;
    let (ta, tb, td) = (
        instant(&qa["targets"][0]["at"]),
        instant(&qb["targets"][0]["at"]),
        instant(&qd["targets"][0]["at"]),
    );
    assert_eq!(ta, utc_of("Europe/Berlin", at9(before)));
    assert_eq!(tb, utc_of("Europe/Berlin", at9(day)));
    assert_eq!(td, utc_of("Europe/Berlin", at9(day + Days::new(1))));
    assert_eq!(
        qa["targets"][0]["local"],
        format!("{}T09:00:00", before.format("%Y-%m-%d"))
    );
    assert_eq!(
        qb["targets"][0]["local"],
        format!("{}T09:00:00", day.format("%Y-%m-%d"))
    );
    assert_eq!(qb["targets"][0]["timezone"], "Europe/Berlin");
    assert_eq!(
        (ta.hour() as i32 - tb.hour() as i32).abs(),
        1,
        "{ta} vs {tb}"
    );
    let (_, post) = c.get(&c.editor, &format!("posts/{b}")).await;
    assert_eq!(post["targets"][0]["status"], "scheduled");
    // The taken slots show as taken; queuing a post again keeps its own slot.
    let (_, shown) = c
        .get(
            &c.viewer,
            &format!("{slots_path}/upcoming?from={after}&limit=4"),
        )
        .await;
    let taken: Vec<bool> = shown["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["taken"].as_bool().unwrap())
        .collect();
    assert_eq!(taken, [true, true, true, false]);
    let (_, requeued) = c
        .post(
            &c.editor,
            &format!("posts/{a}/queue"),
            json!({"after": after}),
        )
        .await;
    assert_eq!(instant(&requeued["targets"][0]["at"]), ta);
    // A cancelled post frees its slot for the next one queued.
    let (status, _) = c
        .post(&c.editor, &format!("posts/{b}/cancel"), json!({}))
        .await;
    assert_eq!(status, 200);
    let e = c.draft("fourth").await;
    let (_, qe) = c
        .post(
            &c.editor,
            &format!("posts/{e}/queue"),
            json!({"after": after}),
        )
        .await;
    assert_eq!(instant(&qe["targets"][0]["at"]), tb);

    // Refusals: roles, other workspaces, bad input, no slots.
    let (status, _) = c.put(&c.viewer, &slots_path, json!({"slots": []})).await;
    assert_eq!(status, 403);
    let (status, _) = c
        .post(&c.viewer, &format!("posts/{e}/queue"), json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = c.get(&c.outsider, &slots_path).await;
    assert_eq!(status, 404);
    let foreign = format!("{}/workspaces/{}/{slots_path}", c.api, c.outsider_ws);
    let (status, _) = send(c.http.get(&foreign).bearer_auth(&c.outsider.access_token)).await;
    assert_eq!(status, 404, "another workspace's account");
    let (status, _) = send(
        c.http
            .post(format!(
                "{}/workspaces/{}/posts/{e}/queue",
                c.api, c.outsider_ws
            ))
            .bearer_auth(&c.outsider.access_token)
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 404, "another workspace's post");
    let put = |body: Value| {
        c.http
            .put(c.url(&slots_path))
            .bearer_auth(&c.editor.access_token)
            .json(&body)
    };
    let bad = problem(
        put(json!({"slots": [{"weekday": "mon", "time": "25:00"}]})),
        422,
        "invalid-slots",
    )
    .await;
    assert!(
        bad["detail"].as_str().unwrap().contains("slots[0].time"),
        "{bad}"
    );
    problem(put(json!({"slots": [{"weekday": "mon", "time": "09:00"}, {"weekday": "mon", "time": "09:00"}]})), 422, "invalid-slots").await;
    problem(
        put(json!({"slots": [{"weekday": "funday", "time": "09:00"}]})),
        422,
        "invalid-body",
    )
    .await;
    problem(
        put(json!({"slots": [], "colour": "red"})),
        422,
        "invalid-body",
    )
    .await;
    problem(
        put(json!({"timezone": "CEST", "slots": []})),
        422,
        "invalid-timezone",
    )
    .await;
    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"weekday": "mon", "time": format!("{:02}:{:02}", i / 60, i % 60)}))
        .collect();
    problem(put(json!({"slots": too_many})), 422, "invalid-slots").await;
    problem(
        c.http
            .put(c.url(&slots_path))
            .bearer_auth(&c.editor.access_token)
            .header("content-type", "application/json")
            .body("{\"slots\": ["),
        400,
        "malformed-json",
    )
    .await;
    problem(
        c.http
            .get(c.url(&format!("{slots_path}/upcoming?limit=0")))
            .bearer_auth(&c.viewer.access_token),
        400,
        "invalid-query",
    )
    .await;
    problem(
        c.http
            .post(c.url(&format!("posts/{e}/queue")))
            .bearer_auth(&c.editor.access_token)
            .json(&json!({"after": "tomorrow"})),
        422,
        "invalid-body",
    )
    .await;
    let (status, _) = c.get(&c.viewer, "accounts/no-such-account/slots").await;
    assert_eq!(status, 404);
    let (status, cleared) = c.put(&c.editor, &slots_path, json!({"slots": []})).await;
    assert_eq!(status, 200, "{cleared}");
    let f = c.draft("fifth").await;
    problem(
        c.http
            .post(c.url(&format!("posts/{f}/queue")))
            .bearer_auth(&c.editor.access_token)
            .json(&json!({})),
        422,
        "no-slots",
    )
    .await;
    let (_, post) = c.get(&c.editor, &format!("posts/{f}")).await;
    assert_eq!(post["targets"][0]["status"], "draft", "nothing half-done");
    c.server.running.stop().await;
}

async fn recurring_posts(c: Ctx) {
    // Previews of the 2026 transitions, from each rule's DTSTART.
    let preview = |rrule: &str, start: &str, zone: &str, from: &str| {
        let (rrule, start, zone, from) = (
            rrule.to_string(),
            start.to_string(),
            zone.to_string(),
            from.to_string(),
        );
        let c = &c;
        async move {
            let post = c.draft(&format!("preview {rrule} {zone}")).await;
            let (status, made) = c
                .post(
                    &c.editor,
                    &format!("posts/{post}/recurrence"),
                    json!({"rrule": rrule, "start_local": start, "timezone": zone}),
                )
                .await;
            assert_eq!(status, 201, "{made}");
            let (status, view) = c
                .get(
                    &c.viewer,
                    &format!("posts/{post}/recurrence?from={from}&limit=4"),
                )
                .await;
            assert_eq!(status, 200, "{view}");
            (post, view)
        }
    };
    let (_, daily) = preview(
        "FREQ=DAILY",
        "2026-03-27T09:00",
        "Europe/Berlin",
        "2026-03-27T00:00:00Z",
    )
    .await;
    assert_eq!(
        instants(&daily["upcoming"]),
        [
            "2026-03-27T08:00Z",
            "2026-03-28T08:00Z",
            "2026-03-29T07:00Z",
            "2026-03-30T07:00Z"
        ]
    );
    assert!(
        daily["upcoming"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["local"].as_str().unwrap().ends_with("T09:00:00")),
        "{daily}"
    );
    let (_, weekly) = preview(
        "FREQ=WEEKLY;BYDAY=SU",
        "2026-10-18T10:00",
        "Europe/Berlin",
        "2026-10-17T00:00:00Z",
    )
    .await;
    assert_eq!(
        instants(&weekly["upcoming"])[..3],
        [
            "2026-10-18T08:00Z",
            "2026-10-25T09:00Z",
            "2026-11-01T09:00Z"
        ]
    );
    let (_, ny) = preview(
        "FREQ=WEEKLY;BYDAY=SA,SU",
        "2026-03-07T09:00",
        "America/New_York",
        "2026-03-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        instants(&ny["upcoming"])[..2],
        ["2026-03-07T14:00Z", "2026-03-08T13:00Z"]
    );
    let (_, ny) = preview(
        "FREQ=DAILY",
        "2026-10-31T09:00",
        "America/New_York",
        "2026-10-30T00:00:00Z",
    )
    .await;
    assert_eq!(
        instants(&ny["upcoming"])[..3],
        [
            "2026-10-31T13:00Z",
            "2026-11-01T14:00Z",
            "2026-11-02T14:00Z"
        ]
    );

    // A weekly rule across the next New York transition, made for real: the first
    // occurrence is a scheduled copy of the template, the next ones follow at 09:00 local.
    let day = next_transition("America/New_York", 10);
    let week_before = day - Days::new(7);
    let weekday = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
        [day.format("%u").to_string().parse::<usize>().unwrap() - 1];
    let template = c.draft("weekly across the transition").await;
    let (status, made) = c
        .post(
            &c.editor,
            &format!("posts/{template}/recurrence"),
            json!({"rrule": format!("freq=weekly;byday={weekday};count=3"), "start_local": format!("{}T09:00", week_before.format("%Y-%m-%d")), "timezone": "America/New_York"}),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made["rrule"],
        format!("FREQ=WEEKLY;BYDAY={weekday};COUNT=3")
    );
    assert_eq!(made["ended"], false);
    let at: Vec<DateTime<Utc>> = made["upcoming"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| instant(&o["at"]))
        .collect();
    assert_eq!(
        at,
        [at9(week_before), at9(day), at9(day + Days::new(7))]
            .map(|l| utc_of("America/New_York", l)),
        "COUNT=3 ends the list"
    );
    assert_eq!((at[0].hour() as i32 - at[1].hour() as i32).abs(), 1);
    let first = made["upcoming"][0]["post_id"]
        .as_str()
        .expect("the first occurrence is made")
        .to_string();
    assert!(
        made["upcoming"][1]["post_id"].is_null(),
        "only the next occurrence is made"
    );
    let (_, copy) = c.get(&c.editor, &format!("posts/{first}")).await;
    assert_eq!(copy["text"], "weekly across the transition");
    assert_eq!(copy["targets"][0]["status"], "scheduled");
    let (_, tmpl) = c.get(&c.editor, &format!("posts/{template}")).await;
    assert_eq!(
        tmpl["targets"][0]["status"], "draft",
        "the template stays a draft"
    );

    // Refusals.
    let rec = |post: &str| c.url(&format!("posts/{post}/recurrence"));
    let create = |post: &str, body: Value| {
        c.http
            .post(rec(post))
            .bearer_auth(&c.editor.access_token)
            .json(&body)
    };
    let other = c.draft("refusals").await;
    for (rrule, part) in [
        ("FREQ=YEARLY", "FREQ=YEARLY"),
        ("FREQ=MONTHLY;BYSETPOS=-1", "BYSETPOS"),
        ("FREQ=DAILY;BYHOUR=9", "BYHOUR"),
        ("FREQ=MONTHLY;BYDAY=1MO", "BYDAY=1MO"),
    ] {
        let p = problem(
            create(
                &other,
                json!({"rrule": rrule, "start_local": "2030-01-01T09:00"}),
            ),
            422,
            "unsupported-rrule",
        )
        .await;
        assert_eq!(p["errors"][0]["part"], part, "{p}");
        assert!(p["detail"].as_str().unwrap().contains(part), "{p}");
    }
    let p = problem(
        create(
            &other,
            json!({"rrule": "FREQ=DAILY;INTERVAL=0", "start_local": "2030-01-01T09:00"}),
        ),
        422,
        "invalid-rrule",
    )
    .await;
    assert_eq!(p["errors"][0]["part"], "INTERVAL");
    problem(create(&other, json!({"rrule": "FREQ=DAILY;COUNT=2;UNTIL=20300101", "start_local": "2030-01-01T09:00"})), 422, "invalid-rrule").await;
    problem(
        create(
            &other,
            json!({"rrule": "FREQ=DAILY", "start_local": "soon"}),
        ),
        422,
        "invalid-start",
    )
    .await;
    problem(create(&other, json!({"rrule": "FREQ=DAILY", "start_local": "2030-01-01T09:00", "timezone": "Mars/Olympus"})), 422, "invalid-timezone").await;
    problem(
        create(
            &other,
            json!({"rrule": "FREQ=DAILY;COUNT=3", "start_local": "2026-01-01T09:00"}),
        ),
        422,
        "no-occurrences",
    )
    .await;
    problem(
        create(
            &other,
            json!({"rrule": "FREQ=DAILY", "start_local": "2030-01-01T09:00", "extra": 1}),
        ),
        422,
        "invalid-body",
    )
    .await;
    problem(
        create(
            &template,
            json!({"rrule": "FREQ=DAILY", "start_local": "2030-01-01T09:00"}),
        ),
        409,
        "recurrence-exists",
    )
    .await;
    problem(
        create(
            &first,
            json!({"rrule": "FREQ=DAILY", "start_local": "2030-01-01T09:00"}),
        ),
        409,
        "target-not-schedulable",
    )
    .await;
    let (status, _) = send(
        c.http
            .post(rec(&other))
            .bearer_auth(&c.viewer.access_token)
            .json(&json!({"rrule": "FREQ=DAILY", "start_local": "2030-01-01T09:00"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        c.http
            .delete(rec(&template))
            .bearer_auth(&c.viewer.access_token),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        c.http
            .get(rec(&template))
            .bearer_auth(&c.outsider.access_token),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = c.get(&c.viewer, &format!("posts/{other}/recurrence")).await;
    assert_eq!(status, 404, "a post that does not recur");

    // Stopping cancels the occurrence not yet published and makes no more.
    let (status, stopped) = send(
        c.http
            .delete(rec(&template))
            .bearer_auth(&c.editor.access_token),
    )
    .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["cancelled"], json!([first]));
    assert_eq!(c.get(&c.editor, &format!("posts/{first}")).await.0, 404);
    assert_eq!(
        c.get(&c.editor, &format!("posts/{template}/recurrence"))
            .await
            .0,
        404
    );
    assert_eq!(c.get(&c.editor, &format!("posts/{template}")).await.0, 200);

    // Occurrences due now are published by the worker, each making the next: COUNT=2 makes
    // a second one a day later; UNTIL the same day ends after the first.
    let soon = Utc::now() + chrono::Duration::seconds(8);
    let soon_local = soon.format("%Y-%m-%dT%H:%M:%S").to_string();
    let counted = c.draft("recurring, counted").await;
    let until = c.draft("recurring, until").await;
    let (status, a) = c
        .post(
            &c.editor,
            &format!("posts/{counted}/recurrence"),
            json!({"rrule": "FREQ=DAILY;COUNT=2", "start_local": soon_local}),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["timezone"], "UTC", "the workspace's zone");
    let rule = format!("FREQ=DAILY;UNTIL={}", soon.format("%Y%m%d"));
    let (status, b) = c
        .post(
            &c.editor,
            &format!("posts/{until}/recurrence"),
            json!({"rrule": rule, "start_local": soon_local}),
        )
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["upcoming"].as_array().unwrap().len(), 1, "{b}");
    let first_counted = a["upcoming"][0]["post_id"].as_str().unwrap().to_string();
    let first_until = b["upcoming"][0]["post_id"].as_str().unwrap().to_string();
    c.wait_published(&first_counted).await;
    c.wait_published(&first_until).await;
    let texts: Vec<String> = c.sim.statuses().iter().map(|s| s.text.clone()).collect();
    assert!(
        texts.contains(&"recurring, counted".to_string()),
        "{texts:?}"
    );
    assert!(texts.contains(&"recurring, until".to_string()), "{texts:?}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let next = loop {
        let (_, view) = c
            .get(&c.viewer, &format!("posts/{counted}/recurrence"))
            .await;
        if view["upcoming"][0]["post_id"].is_string() {
            break view;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second occurrence was not made: {view}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        next["upcoming"].as_array().unwrap().len(),
        1,
        "COUNT=2: one left"
    );
    assert_eq!(
        instant(&next["upcoming"][0]["at"]),
        instant(&a["upcoming"][0]["at"]) + chrono::Duration::days(1)
    );
    let second = next["upcoming"][0]["post_id"].as_str().unwrap();
    assert_ne!(second, first_counted);
    let (_, copy) = c.get(&c.editor, &format!("posts/{second}")).await;
    assert_eq!(copy["targets"][0]["status"], "scheduled");
    let (_, ended) = c.get(&c.viewer, &format!("posts/{until}/recurrence")).await;
    assert_eq!(
        (
            ended["ended"].as_bool(),
            ended["upcoming"].as_array().map(Vec::len)
        ),
        (Some(true), Some(0)),
        "{ended}"
    );
    // Stopping leaves the published occurrence alone.
    let (status, stopped) = send(
        c.http
            .delete(c.url(&format!("posts/{counted}/recurrence")))
            .bearer_auth(&c.editor.access_token),
    )
    .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["cancelled"], json!([second]));
    assert_eq!(
        c.get(&c.editor, &format!("posts/{first_counted}")).await.0,
        200
    );
    c.server.running.stop().await;
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 255) as u8, (y % 255) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn row(report: &Value, n: usize) -> &Value {
    &report["rows"][n - 1]
}

fn codes(row: &Value) -> Vec<(String, String)> {
    row["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["field"].as_str().unwrap().to_string(),
                p["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn one(field: &str, code: &str) -> Vec<(String, String)> {
    vec![(field.to_string(), code.to_string())]
}

async fn bulk_import(c: Ctx) {
    let import = |query: &str, content_type: &str, body: Vec<u8>| {
        c.http
            .post(c.url(&format!("posts/import{query}")))
            .bearer_auth(&c.editor.access_token)
            .header("content-type", content_type)
            .body(body)
    };
    let acct = &c.account;
    let day = |n: i64| {
        (Utc::now() + chrono::Duration::days(n))
            .format("%Y-%m-%dT09:00")
            .to_string()
    };
    let (d1, d2, d3, d4, d5) = (day(3), day(4), day(5), day(6), day(7));

    // One bad row and nothing is created; the report names the rows and fields.
    let before = c.post_count().await;
    let csv = format!(
        "text,targets,scheduled_at_local,timezone,options\n\
         First post,{acct},{d1},Europe/Berlin,visibility=unlisted\n\
         Second post,{acct},{d2},Mars/Olympus,\n\
         Third post,{acct}|nobody,{d3},,\n"
    );
    let refused = problem(
        import("", "text/csv", csv.clone().into_bytes()),
        422,
        "import-refused",
    )
    .await;
    assert_eq!(
        (refused["created"].as_u64(), refused["failed"].as_u64()),
        (Some(0), Some(2)),
        "{refused}"
    );
    assert_eq!(row(&refused, 1)["ok"], true);
    assert!(
        row(&refused, 1)["post_id"].is_null(),
        "nothing created: {refused}"
    );
    assert_eq!(
        (
            row(&refused, 2)["row"].as_u64(),
            row(&refused, 2)["line"].as_u64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(codes(row(&refused, 2)), one("timezone", "invalid-timezone"));
    assert_eq!(codes(row(&refused, 3)), one("targets", "unknown-target"));
    assert_eq!(row(&refused, 3)["problems"][0]["account_id"], "nobody");
    assert_eq!(c.post_count().await, before, "all or nothing");

    // Partial mode creates the rows that pass and reports the others.
    let (status, partial) = send(import("?mode=partial", "text/csv", csv.into_bytes())).await;
    assert_eq!(status, 200, "{partial}");
    assert_eq!(
        (partial["created"].as_u64(), partial["failed"].as_u64()),
        (Some(1), Some(2))
    );
    let first = row(&partial, 1)["post_id"].as_str().unwrap().to_string();
    assert!(row(&partial, 2)["post_id"].is_null());
    let (_, post) = c.get(&c.editor, &format!("posts/{first}")).await;
    assert_eq!(post["text"], "First post");
    assert_eq!(post["options"]["visibility"], "unlisted");
    assert_eq!(post["targets"][0]["status"], "scheduled");
    assert_eq!(c.post_count().await, before + 1);

    // Duplicates of a scheduled post and of an earlier row are flagged.
    let dupes = format!(
        "targets,text,scheduled_at_local,timezone\n\
         {acct},First post,{d1},Europe/Berlin\n\
         {acct},New post,{d4},\n\
         {acct},New post,{d4},\n\
         {acct},New post,{d5},\n"
    );
    let refused = problem(
        import("", "text/csv", dupes.into_bytes()),
        422,
        "import-refused",
    )
    .await;
    assert_eq!(codes(row(&refused, 1)), one("row", "duplicate"));
    assert!(
        row(&refused, 1)["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&first),
        "{refused}"
    );
    assert_eq!(row(&refused, 2)["ok"], true);
    assert_eq!(codes(row(&refused, 3)), one("row", "duplicate"));
    assert!(
        row(&refused, 3)["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("row 2")
    );
    assert_eq!(row(&refused, 4)["ok"], true, "another time is another post");

    // Each target is checked against its platform, and times must parse and lie ahead.
    let long = "x".repeat(600);
    let checks = format!(
        "text,targets,scheduled_at_local\n\
         {long},{acct},{d1}\n\
         Fine,{acct},next tuesday\n\
         Late,{acct},2020-01-01T09:00\n\
         Nobody,,{d1}\n"
    );
    let refused = problem(
        import("", "text/csv", checks.into_bytes()),
        422,
        "import-refused",
    )
    .await;
    let platform = &row(&refused, 1)["problems"][0];
    assert_eq!(
        (platform["field"].as_str(), platform["account_id"].as_str()),
        (Some("text"), Some(acct.as_str())),
        "{refused}"
    );
    assert_eq!(
        codes(row(&refused, 2)),
        one("scheduled_at_local", "invalid-time")
    );
    assert_eq!(
        codes(row(&refused, 3)),
        one("scheduled_at_local", "in-past")
    );
    assert_eq!(codes(row(&refused, 4)), one("targets", "required"));

    // JSON: with media, a draft, and a post due in seconds that the worker publishes.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(320, 240))
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let (status, media) = send(
        c.http
            .post(c.url("media"))
            .bearer_auth(&c.editor.access_token)
            .multipart(form),
    )
    .await;
    assert_eq!(status, 201, "{media}");
    let soon = (Utc::now() + chrono::Duration::seconds(8))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let body = json!({"posts": [
        {"text": "Imported and published", "targets": [acct], "scheduled_at_local": soon},
        {"text": "With a picture", "kind": "image", "media": [media["id"]], "targets": [acct], "scheduled_at_local": d5, "timezone": "America/New_York", "options": {"visibility": "unlisted"}},
        {"text": "A draft", "targets": [acct]},
    ]});
    let (status, created) = send(import(
        "",
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    ))
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["created"], 3);
    let (_, picture) = c
        .get(
            &c.editor,
            &format!("posts/{}", row(&created, 2)["post_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(
        (
            picture["kind"].as_str(),
            picture["media"].as_array().map(Vec::len)
        ),
        (Some("image"), Some(1))
    );
    let (_, draft) = c
        .get(
            &c.editor,
            &format!("posts/{}", row(&created, 3)["post_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(draft["targets"][0]["status"], "draft");
    let published = c
        .wait_published(row(&created, 1)["post_id"].as_str().unwrap())
        .await;
    let statuses = c.sim.statuses();
    let sent = statuses
        .iter()
        .find(|s| s.text == "Imported and published")
        .expect("at the simulator");
    assert_eq!(
        published["targets"][0]["remote_id"].as_str(),
        Some(sent.id.as_str())
    );
    let unknown = json!({"posts": [{"text": "hi", "targets": [acct], "media": ["no-such-media"]}]});
    let refused = problem(
        import(
            "",
            "application/json",
            serde_json::to_vec(&unknown).unwrap(),
        ),
        422,
        "import-refused",
    )
    .await;
    assert_eq!(codes(row(&refused, 1)), one("media", "unknown-media"));
    assert_eq!(c.post_count().await, before + 4);

    // Bodies that are no import at all.
    let big = vec![b'a'; plugboard::posts::import::MAX_BYTES + 1];
    problem(import("", "text/csv", big), 413, "body-too-large").await;
    let p = problem(
        import(
            "",
            "text/csv",
            format!("text,targets\nhi,{acct},extra\n").into_bytes(),
        ),
        400,
        "malformed-csv",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("line 2"), "{p}");
    let p = problem(
        import("", "text/csv", b"text,targets,colour\nhi,a,red\n".to_vec()),
        422,
        "invalid-import",
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("colour"), "{p}");
    problem(
        import("", "text/csv", b"text,targets\n".to_vec()),
        422,
        "empty-import",
    )
    .await;
    let many = format!("text,targets\n{}", format!("hi,{acct}\n").repeat(1001));
    problem(
        import("", "text/csv", many.into_bytes()),
        422,
        "too-many-rows",
    )
    .await;
    problem(
        import("", "application/json", b"{\"posts\": [".to_vec()),
        400,
        "malformed-json",
    )
    .await;
    problem(
        import(
            "",
            "application/json",
            b"{\"posts\": [{\"text\": 5}]}".to_vec(),
        ),
        422,
        "invalid-import",
    )
    .await;
    problem(
        import("", "text/plain", b"hello".to_vec()),
        415,
        "unsupported-media-type",
    )
    .await;
    problem(
        import("?mode=some", "text/csv", b"text,targets\nhi,a\n".to_vec()),
        400,
        "invalid-query",
    )
    .await;
    let small = format!("text,targets\nhi,{acct}\n");
    let (status, _) = send(
        c.http
            .post(c.url("posts/import"))
            .bearer_auth(&c.viewer.access_token)
            .header("content-type", "text/csv")
            .body(small.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        c.http
            .post(c.url("posts/import"))
            .bearer_auth(&c.outsider.access_token)
            .header("content-type", "text/csv")
            .body(small.clone()),
    )
    .await;
    assert_eq!(status, 404);
    let (status, foreign) = send(
        c.http
            .post(format!(
                "{}/workspaces/{}/posts/import",
                c.api, c.outsider_ws
            ))
            .bearer_auth(&c.outsider.access_token)
            .header("content-type", "text/csv")
            .body(small),
    )
    .await;
    assert_eq!(
        status, 422,
        "another workspace's account is unknown there: {foreign}"
    );
    assert_eq!(codes(row(&foreign, 1)), one("targets", "unknown-target"));
    assert_eq!(c.post_count().await, before + 4, "nothing half-written");
    c.server.running.stop().await;
}

async fn server_on_sqlite() -> TestServer {
    test_server_with(tempfile::tempdir().unwrap(), |_| {}).await
}

async fn server_on_postgres() -> TestServer {
    let url = pg_database().await;
    test_server_with(tempfile::tempdir().unwrap(), move |c| {
        c.database_url = Some(url)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_slots_on_sqlite() {
    queue_slots(setup(server_on_sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_posts_on_sqlite() {
    recurring_posts(setup(server_on_sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_import_on_sqlite() {
    bulk_import(setup(server_on_sqlite().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_on_postgres() {
    queue_slots(setup(server_on_postgres().await).await).await;
    recurring_posts(setup(server_on_postgres().await).await).await;
    bulk_import(setup(server_on_postgres().await).await).await;
}
