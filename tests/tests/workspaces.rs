//! Workspaces over HTTP: settings, members and roles, invitations, the activity log —
//! what each role may not do, other workspaces' ids answering 404 on every route, bad
//! input refused with nothing written — on SQLite and on PostgreSQL.

use plugboard::on_db;
use plugboard_e2e::api::{
    Session, client, create_workspace, invite_and_join, problem, send, signup,
};
use plugboard_e2e::{TestServer, pg_database, test_server, test_server_with};
use reqwest::Method;
use serde_json::{Value, json};

async fn pg_server() -> TestServer {
    let url = pg_database().await;
    test_server_with(tempfile::tempdir().unwrap(), |c| c.database_url = Some(url)).await
}

fn url(base: &str, path: &str) -> String {
    format!("{base}/api/v1{path}")
}

/// The actions of the workspace's activity log, newest first.
async fn actions(base: &str, token: &str, ws: &str) -> Vec<String> {
    let (status, page) = send(
        client()
            .get(url(base, &format!("/workspaces/{ws}/activity?limit=200")))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect()
}

async fn settings(base: &str) {
    let c = client();
    let owner = signup(base, "owner@settings.test").await;
    let create = |body: Value| {
        c.post(url(base, "/workspaces"))
            .bearer_auth(&owner.access_token)
            .json(&body)
    };

    let (status, ws) = send(create(json!({
        "name": "  Studio  ", "timezone": "Europe/Paris", "brand_voice": "Warm, concise."
    })))
    .await;
    assert_eq!(status, 201, "{ws}");
    assert_eq!(ws["name"], "Studio");
    assert_eq!(ws["timezone"], "Europe/Paris");
    assert_eq!(ws["brand_voice"], "Warm, concise.");
    assert_eq!(ws["role"], "owner");
    let id = ws["id"].as_str().unwrap().to_string();

    // Bad input: precise refusals, and no workspace appears.
    for (body, field) in [
        (
            json!({ "name": "W", "timezone": "Mars/Olympus_Mons" }),
            "timezone",
        ),
        (json!({ "name": "W", "timezone": "+02:00" }), "timezone"),
        (
            json!({ "name": "W", "timezone": "europe/paris" }),
            "timezone",
        ),
        (json!({ "name": "", "timezone": "UTC" }), "name"),
        (
            json!({ "name": "W".repeat(101), "timezone": "UTC" }),
            "name",
        ),
        (
            json!({ "name": "W", "timezone": "UTC", "brand_voice": "v".repeat(2001) }),
            "brand_voice",
        ),
    ] {
        let v = problem(create(body.clone()), 422, "invalid-field").await;
        assert_eq!(v["errors"][0]["field"], field, "{body}");
    }
    problem(create(json!({ "name": "W" })), 422, "invalid-body").await;
    problem(
        create(json!({ "name": "W", "timezone": "UTC", "plan": "pro" })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        create(json!({ "name": ["W"], "timezone": "UTC" })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.post(url(base, "/workspaces"))
            .bearer_auth(&owner.access_token)
            .header("content-type", "application/json")
            .body("{\"name\": \"W\","),
        400,
        "malformed-json",
    )
    .await;
    problem(
        create(json!({ "name": "W", "timezone": "UTC", "brand_voice": "x".repeat(2 << 20) })),
        413,
        "body-too-large",
    )
    .await;
    problem(
        c.post(url(base, "/workspaces"))
            .json(&json!({ "name": "W", "timezone": "UTC" })),
        401,
        "unauthorized",
    )
    .await;
    let (_, list) = send(
        c.get(url(base, "/workspaces"))
            .bearer_auth(&owner.access_token),
    )
    .await;
    assert_eq!(list["workspaces"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["workspaces"][0]["role"], "owner");

    // Settings change; an invalid change changes nothing.
    let patch = |body: Value| {
        c.patch(url(base, &format!("/workspaces/{id}")))
            .bearer_auth(&owner.access_token)
            .json(&body)
    };
    let (status, changed) = send(patch(
        json!({ "timezone": "America/New_York", "brand_voice": "" }),
    ))
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["timezone"], "America/New_York");
    assert_eq!(changed["brand_voice"], "");
    assert_eq!(changed["name"], "Studio");
    problem(
        patch(json!({ "name": "New", "timezone": "Nowhere/Land" })),
        422,
        "invalid-field",
    )
    .await;
    problem(
        patch(json!({ "name": "New", "colour": "red" })),
        422,
        "invalid-body",
    )
    .await;
    let (_, now) = send(
        c.get(url(base, &format!("/workspaces/{id}")))
            .bearer_auth(&owner.access_token),
    )
    .await;
    assert_eq!(now["name"], "Studio");
    assert_eq!(now["timezone"], "America/New_York");
    // A change to the same values is not an event.
    assert_eq!(send(patch(json!({ "name": "Studio" }))).await.0, 200);

    let (_, page) = send(
        c.get(url(base, &format!("/workspaces/{id}/activity")))
            .bearer_auth(&owner.access_token),
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["action"], "workspace.updated");
    assert_eq!(items[0]["actor_id"], owner.user_id.as_str());
    assert_eq!(
        items[0]["details"]["changed"]["timezone"],
        json!({ "from": "Europe/Paris", "to": "America/New_York" })
    );
    assert_eq!(items[0]["details"]["changed"]["brand_voice"]["to"], "");
    assert!(items[0]["details"]["changed"].get("name").is_none());
    assert_eq!(items[1]["action"], "workspace.created");

    // Deleting takes everything with it.
    let resp = c
        .delete(url(base, &format!("/workspaces/{id}")))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(url(base, &format!("/workspaces/{id}")))
            .bearer_auth(&owner.access_token),
        404,
        "not-found",
    )
    .await;
    let (_, list) = send(
        c.get(url(base, "/workspaces"))
            .bearer_auth(&owner.access_token),
    )
    .await;
    assert_eq!(list["workspaces"], json!([]));
}

struct Team {
    ws: String,
    owner: Session,
    admin: Session,
    editor: Session,
    viewer: Session,
}

async fn team(base: &str, tag: &str) -> Team {
    let owner = signup(base, &format!("owner@{tag}.test")).await;
    let ws = create_workspace(base, &owner.access_token, tag).await;
    let admin = invite_and_join(
        base,
        &owner.access_token,
        &ws,
        "admin",
        &format!("admin@{tag}.test"),
    )
    .await;
    let editor = invite_and_join(
        base,
        &owner.access_token,
        &ws,
        "editor",
        &format!("editor@{tag}.test"),
    )
    .await;
    let viewer = invite_and_join(
        base,
        &owner.access_token,
        &ws,
        "viewer",
        &format!("viewer@{tag}.test"),
    )
    .await;
    Team {
        ws,
        owner,
        admin,
        editor,
        viewer,
    }
}

async fn roles(base: &str) {
    let c = client();
    let t = team(base, "roles").await;
    let ws = &t.ws;
    let members_url = url(base, &format!("/workspaces/{ws}/members"));
    let member_url = |user: &str| format!("{members_url}/{user}");

    let (status, list) = send(c.get(&members_url).bearer_auth(&t.viewer.access_token)).await;
    assert_eq!(status, 200);
    let roles: Vec<(&str, &str)> = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            ("owner@roles.test", "owner"),
            ("admin@roles.test", "admin"),
            ("editor@roles.test", "editor"),
            ("viewer@roles.test", "viewer")
        ]
    );
    let (_, mine) = send(
        c.get(url(base, "/workspaces"))
            .bearer_auth(&t.editor.access_token),
    )
    .await;
    assert_eq!(mine["workspaces"][0]["role"], "editor");

    let events_before = actions(base, &t.owner.access_token, ws).await.len();

    // Viewers and editors read but administer nothing.
    for who in [&t.viewer, &t.editor] {
        let token = &who.access_token;
        for path in [
            "",
            "/members",
            "/activity",
            "/activity/recent",
            "/activity/stats",
        ] {
            let (status, v) = send(
                c.get(url(base, &format!("/workspaces/{ws}{path}")))
                    .bearer_auth(token),
            )
            .await;
            assert_eq!(status, 200, "{path}: {v}");
        }
        let forbidden = [
            c.patch(url(base, &format!("/workspaces/{ws}")))
                .json(&json!({ "name": "Mine" })),
            c.delete(url(base, &format!("/workspaces/{ws}"))),
            c.get(url(base, &format!("/workspaces/{ws}/invitations"))),
            c.post(url(base, &format!("/workspaces/{ws}/invitations")))
                .json(&json!({ "email": "x@roles.test", "role": "viewer" })),
            c.patch(member_url(&t.admin.user_id))
                .json(&json!({ "role": "viewer" })),
            c.patch(member_url(&who.user_id))
                .json(&json!({ "role": "admin" })),
            c.delete(member_url(&t.admin.user_id)),
        ];
        for req in forbidden {
            problem(req.bearer_auth(token), 403, "forbidden").await;
        }
    }

    // Admins administer, but neither delete the workspace nor touch ownership.
    let admin = &t.admin.access_token;
    problem(
        c.delete(url(base, &format!("/workspaces/{ws}")))
            .bearer_auth(admin),
        403,
        "forbidden",
    )
    .await;
    problem(
        c.patch(member_url(&t.viewer.user_id))
            .bearer_auth(admin)
            .json(&json!({ "role": "owner" })),
        403,
        "owner-required",
    )
    .await;
    problem(
        c.patch(member_url(&t.owner.user_id))
            .bearer_auth(admin)
            .json(&json!({ "role": "admin" })),
        403,
        "owner-required",
    )
    .await;
    problem(
        c.delete(member_url(&t.owner.user_id)).bearer_auth(admin),
        403,
        "owner-required",
    )
    .await;
    assert_eq!(
        actions(base, &t.owner.access_token, ws).await.len(),
        events_before,
        "refused requests record nothing"
    );
    let (status, v) = send(
        c.patch(member_url(&t.viewer.user_id))
            .bearer_auth(admin)
            .json(&json!({ "role": "editor" })),
    )
    .await;
    assert_eq!((status, v["role"].as_str()), (200, Some("editor")), "{v}");
    let (status, v) = send(
        c.patch(url(base, &format!("/workspaces/{ws}")))
            .bearer_auth(admin)
            .json(&json!({ "name": "Renamed" })),
    )
    .await;
    assert_eq!((status, v["name"].as_str()), (200, Some("Renamed")), "{v}");

    // Bad member changes.
    problem(
        c.patch(member_url(&t.viewer.user_id))
            .bearer_auth(admin)
            .json(&json!({ "role": "superuser" })),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.patch(member_url(&t.viewer.user_id))
            .bearer_auth(admin)
            .json(&json!({})),
        422,
        "invalid-body",
    )
    .await;
    problem(
        c.patch(member_url("no-such-user"))
            .bearer_auth(admin)
            .json(&json!({ "role": "viewer" })),
        404,
        "not-found",
    )
    .await;
    problem(
        c.delete(member_url("no-such-user")).bearer_auth(admin),
        404,
        "not-found",
    )
    .await;

    // The last owner can neither step down nor leave.
    let owner = &t.owner.access_token;
    problem(
        c.patch(member_url(&t.owner.user_id))
            .bearer_auth(owner)
            .json(&json!({ "role": "admin" })),
        409,
        "last-owner",
    )
    .await;
    problem(
        c.delete(member_url(&t.owner.user_id)).bearer_auth(owner),
        409,
        "last-owner",
    )
    .await;
    // With a second owner, the first can step down; the second is then the last.
    let (status, _) = send(
        c.patch(member_url(&t.admin.user_id))
            .bearer_auth(owner)
            .json(&json!({ "role": "owner" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, v) = send(
        c.patch(member_url(&t.owner.user_id))
            .bearer_auth(owner)
            .json(&json!({ "role": "admin" })),
    )
    .await;
    assert_eq!((status, v["role"].as_str()), (200, Some("admin")), "{v}");
    problem(
        c.delete(member_url(&t.admin.user_id)).bearer_auth(admin),
        409,
        "last-owner",
    )
    .await;
    // The former owner, now admin, cannot take ownership back.
    problem(
        c.patch(member_url(&t.owner.user_id))
            .bearer_auth(owner)
            .json(&json!({ "role": "owner" })),
        403,
        "owner-required",
    )
    .await;

    // Anyone may leave; an admin may remove a member.
    let resp = c
        .delete(member_url(&t.viewer.user_id))
        .bearer_auth(&t.viewer.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(url(base, &format!("/workspaces/{ws}")))
            .bearer_auth(&t.viewer.access_token),
        404,
        "not-found",
    )
    .await;
    let resp = c
        .delete(member_url(&t.editor.user_id))
        .bearer_auth(owner)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.get(&members_url).bearer_auth(&t.editor.access_token),
        404,
        "not-found",
    )
    .await;

    let log = actions(base, admin, ws).await;
    assert_eq!(
        &log[..6],
        [
            "member.removed",
            "member.left",
            "member.role_changed",
            "member.role_changed",
            "workspace.updated",
            "member.role_changed"
        ],
        "{log:?}"
    );
}

async fn invitations(server: &TestServer) {
    let base = server.base.as_str();
    let c = client();
    let owner = signup(base, "owner@invites.test").await;
    let ws = create_workspace(base, &owner.access_token, "Invites").await;
    let invites = url(base, &format!("/workspaces/{ws}/invitations"));
    let invite = |email: &str, role: &str| {
        c.post(&invites)
            .bearer_auth(&owner.access_token)
            .json(&json!({ "email": email, "role": role }))
    };
    let accept = |token: &str, who: &str| {
        c.post(url(base, "/invitations/accept"))
            .bearer_auth(who)
            .json(&json!({ "token": token }))
    };

    let resp = invite("  Zed@Invites.TEST ", "editor")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let status = resp.status().as_u16();
    let created: Value = resp.json().await.unwrap();
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("pbi_"));
    assert_eq!(created["accept_path"], "/api/v1/invitations/accept");
    assert_eq!(created["invitation"]["email"], "zed@invites.test");
    assert_eq!(created["invitation"]["role"], "editor");
    assert_eq!(created["invitation"]["invited_by"], owner.user_id.as_str());

    let resp = c
        .get(&invites)
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(!text.contains(&token), "the token leaked in the list");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["invitations"].as_array().unwrap().len(), 1);

    // Refused invitations.
    problem(invite("zed@invites.test", "viewer"), 409, "already-invited").await;
    problem(
        invite("owner@invites.test", "viewer"),
        409,
        "already-member",
    )
    .await;
    let v = problem(
        invite("someone@invites.test", "owner"),
        422,
        "invalid-field",
    )
    .await;
    assert_eq!(v["errors"][0]["field"], "role");
    problem(invite("not-an-email", "viewer"), 422, "invalid-field").await;
    problem(invite("a@invites.test", "boss"), 422, "invalid-body").await;
    problem(
        c.post(&invites)
            .bearer_auth(&owner.access_token)
            .json(&json!({ "email": "a@invites.test", "role": "viewer", "note": "hi" })),
        422,
        "invalid-body",
    )
    .await;

    // Only the invited email can accept, once.
    let zed = signup(base, "zed@invites.test").await;
    let yan = signup(base, "yan@invites.test").await;
    problem(
        accept(&token, &yan.access_token),
        403,
        "invitation-for-someone-else",
    )
    .await;
    problem(accept("pbi_unknown", &zed.access_token), 404, "not-found").await;
    problem(accept("hello", &zed.access_token), 404, "not-found").await;
    problem(
        c.post(url(base, "/invitations/accept"))
            .json(&json!({ "token": token })),
        401,
        "unauthorized",
    )
    .await;
    let (status, joined) = send(accept(&token, &zed.access_token)).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(joined["id"], ws.as_str());
    assert_eq!(joined["role"], "editor");
    problem(accept(&token, &zed.access_token), 410, "invitation-used").await;
    let (_, list) = send(c.get(&invites).bearer_auth(&owner.access_token)).await;
    assert_eq!(list["invitations"], json!([]));

    // Revoked and expired invitations are gone.
    let (_, revoked) = send(invite("yan@invites.test", "viewer")).await;
    let revoked_id = revoked["invitation"]["id"].as_str().unwrap();
    let resp = c
        .delete(format!("{invites}/{revoked_id}"))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    problem(
        c.delete(format!("{invites}/{revoked_id}"))
            .bearer_auth(&owner.access_token),
        409,
        "invitation-not-pending",
    )
    .await;
    problem(
        accept(revoked["token"].as_str().unwrap(), &yan.access_token),
        410,
        "invitation-revoked",
    )
    .await;
    problem(
        c.delete(format!("{invites}/no-such-invitation"))
            .bearer_auth(&owner.access_token),
        404,
        "not-found",
    )
    .await;

    let (_, late) = send(invite("yan@invites.test", "viewer")).await;
    expire_pending_invitations(server).await;
    problem(
        accept(late["token"].as_str().unwrap(), &yan.access_token),
        410,
        "invitation-expired",
    )
    .await;
    problem(
        c.get(url(base, &format!("/workspaces/{ws}")))
            .bearer_auth(&yan.access_token),
        404,
        "not-found",
    )
    .await;

    let log = actions(base, &owner.access_token, &ws).await;
    assert_eq!(
        log,
        [
            "invitation.created",
            "invitation.revoked",
            "invitation.created",
            "member.joined",
            "invitation.created",
            "workspace.created"
        ],
    );
}

/// Moves the expiry of every pending invitation to the past (in the database itself).
async fn expire_pending_invitations(server: &TestServer) {
    let db = &server.app().db;
    // A literal time: TEXT on SQLite, cast to TIMESTAMPTZ on PostgreSQL.
    let sql = db.sql(
        "UPDATE invitations SET expires_at = '2001-01-01T00:00:00+00:00' WHERE accepted_at IS NULL AND revoked_at IS NULL",
    );
    on_db!(db, |p| {
        sqlx::query(sql).execute(p).await.unwrap();
    });
}

async fn isolation(base: &str) {
    let c = client();
    let a = team(base, "alpha").await;
    let outsider = signup(base, "outsider@beta.test").await;
    let theirs = create_workspace(base, &outsider.access_token, "Beta").await;
    let (_, inv) = send(
        c.post(url(base, &format!("/workspaces/{}/invitations", a.ws)))
            .bearer_auth(&a.owner.access_token)
            .json(&json!({ "email": "pending@alpha.test", "role": "viewer" })),
    )
    .await;
    let inv_id = inv["invitation"]["id"].as_str().unwrap().to_string();
    let events = actions(base, &a.owner.access_token, &a.ws).await.len();

    // Every workspace route with another workspace's id (or one that does not exist).
    for ws in [a.ws.as_str(), "0190c0de-0000-7000-8000-000000000000"] {
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/workspaces/{ws}"), None),
            (
                Method::PATCH,
                format!("/workspaces/{ws}"),
                Some(json!({ "name": "Taken" })),
            ),
            (Method::DELETE, format!("/workspaces/{ws}"), None),
            (Method::GET, format!("/workspaces/{ws}/members"), None),
            (
                Method::PATCH,
                format!("/workspaces/{ws}/members/{}", a.owner.user_id),
                Some(json!({ "role": "viewer" })),
            ),
            (
                Method::DELETE,
                format!("/workspaces/{ws}/members/{}", a.viewer.user_id),
                None,
            ),
            (Method::GET, format!("/workspaces/{ws}/invitations"), None),
            (
                Method::POST,
                format!("/workspaces/{ws}/invitations"),
                Some(json!({ "email": "me@beta.test", "role": "admin" })),
            ),
            (
                Method::DELETE,
                format!("/workspaces/{ws}/invitations/{inv_id}"),
                None,
            ),
            (Method::GET, format!("/workspaces/{ws}/activity"), None),
            (
                Method::GET,
                format!("/workspaces/{ws}/activity/recent"),
                None,
            ),
            (
                Method::GET,
                format!("/workspaces/{ws}/activity/stats"),
                None,
            ),
        ];
        for (method, path, body) in routes {
            let mut req = c
                .request(method.clone(), url(base, &path))
                .bearer_auth(&outsider.access_token);
            if let Some(body) = body {
                req = req.json(&body);
            }
            let v = problem(req, 404, "not-found").await;
            assert!(
                !v.to_string().contains("alpha"),
                "{method} {path} leaked: {v}"
            );
        }
    }

    // Ids of the other workspace inside one's own.
    let own = |path: &str| url(base, &format!("/workspaces/{theirs}{path}"));
    problem(
        c.patch(own(&format!("/members/{}", a.owner.user_id)))
            .bearer_auth(&outsider.access_token)
            .json(&json!({ "role": "viewer" })),
        404,
        "not-found",
    )
    .await;
    problem(
        c.delete(own(&format!("/members/{}", a.viewer.user_id)))
            .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;
    problem(
        c.delete(own(&format!("/invitations/{inv_id}")))
            .bearer_auth(&outsider.access_token),
        404,
        "not-found",
    )
    .await;

    // Nothing changed in the other workspace.
    let (_, members) = send(
        c.get(url(base, &format!("/workspaces/{}/members", a.ws)))
            .bearer_auth(&a.owner.access_token),
    )
    .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 4);
    let (_, pending) = send(
        c.get(url(base, &format!("/workspaces/{}/invitations", a.ws)))
            .bearer_auth(&a.owner.access_token),
    )
    .await;
    assert_eq!(pending["invitations"].as_array().unwrap().len(), 1);
    assert_eq!(
        actions(base, &a.owner.access_token, &a.ws).await.len(),
        events
    );
    let (_, w) = send(
        c.get(url(base, &format!("/workspaces/{}", a.ws)))
            .bearer_auth(&a.owner.access_token),
    )
    .await;
    assert_eq!(w["name"], "alpha");
}

async fn activity_log(base: &str) {
    let c = client();
    let t = team(base, "log").await;
    let ws = &t.ws;
    let owner = &t.owner.access_token;
    for role in ["editor", "viewer", "editor", "viewer"] {
        let (status, _) = send(
            c.patch(url(
                base,
                &format!("/workspaces/{ws}/members/{}", t.viewer.user_id),
            ))
            .bearer_auth(owner)
            .json(&json!({ "role": role })),
        )
        .await;
        assert_eq!(status, 200);
    }
    let all = actions(base, owner, ws).await;
    // Created, 3 invitations, 3 joins, 4 role changes.
    assert_eq!(all.len(), 11, "{all:?}");

    // Paging: newest first, no entry twice, none missed.
    let mut seen: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/workspaces/{ws}/activity?limit=3");
        if let Some(b) = &before {
            path.push_str(&format!("&before={b}"));
        }
        let (status, page) =
            send(c.get(url(base, &path)).bearer_auth(&t.viewer.access_token)).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 11);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no duplicates");

    // Filters.
    let (_, joined) = send(
        c.get(url(
            base,
            &format!("/workspaces/{ws}/activity?action=member.joined"),
        ))
        .bearer_auth(owner),
    )
    .await;
    let joined = joined["items"].as_array().unwrap();
    assert_eq!(joined.len(), 3);
    assert!(
        joined
            .iter()
            .all(|a| a["subject_type"] == "member" && a["details"]["invitation_id"].is_string())
    );
    assert_eq!(joined[0]["actor_id"], t.viewer.user_id.as_str());
    let (_, by_admin) = send(
        c.get(url(
            base,
            &format!("/workspaces/{ws}/activity?actor={}", t.admin.user_id),
        ))
        .bearer_auth(owner),
    )
    .await;
    assert_eq!(by_admin["items"].as_array().unwrap().len(), 1);
    let (_, both) = send(
        c.get(url(
            base,
            &format!(
                "/workspaces/{ws}/activity?action=member.role_changed&actor={}",
                t.owner.user_id
            ),
        ))
        .bearer_auth(owner),
    )
    .await;
    let both = both["items"].as_array().unwrap();
    assert_eq!(both.len(), 4);
    assert_eq!(
        both[0]["details"],
        json!({ "from": "editor", "to": "viewer" })
    );

    // Recent and stats.
    let (_, recent) = send(
        c.get(url(base, &format!("/workspaces/{ws}/activity/recent")))
            .bearer_auth(owner),
    )
    .await;
    let recent: Vec<&str> = recent["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(recent, seen.iter().map(String::as_str).collect::<Vec<_>>());
    let (status, stats) = send(
        c.get(url(
            base,
            &format!("/workspaces/{ws}/activity/stats?since=2000-01-01T00:00:00Z"),
        ))
        .bearer_auth(owner),
    )
    .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["total"], 11);
    assert_eq!(
        stats["counts"],
        json!({ "invitation.created": 3, "member.joined": 3, "member.role_changed": 4, "workspace.created": 1 })
    );
    let (_, future) = send(
        c.get(url(
            base,
            &format!("/workspaces/{ws}/activity/stats?since=2999-01-01T00:00:00%2B02:00"),
        ))
        .bearer_auth(owner),
    )
    .await;
    assert_eq!(future["total"], 0);
    assert_eq!(future["counts"], json!({}));
    let (_, default) = send(
        c.get(url(base, &format!("/workspaces/{ws}/activity/stats")))
            .bearer_auth(owner),
    )
    .await;
    assert_eq!(default["total"], 11);

    // Bad parameters.
    let get = |q: &str| {
        c.get(url(base, &format!("/workspaces/{ws}/activity{q}")))
            .bearer_auth(owner)
    };
    problem(get("?limit=0"), 422, "invalid-field").await;
    problem(get("?limit=201"), 422, "invalid-field").await;
    problem(get("?limit=ten"), 400, "invalid-query").await;
    problem(get("?limit=-1"), 400, "invalid-query").await;
    problem(get("?actor_id=x"), 400, "invalid-query").await;
    problem(get("?action="), 422, "invalid-field").await;
    problem(get("/stats?since=yesterday"), 422, "invalid-field").await;
    problem(get("/stats?since=2024-01-01"), 422, "invalid-field").await;
}

async fn everything(server: &TestServer) {
    let base = &server.base;
    settings(base).await;
    roles(base).await;
    invitations(server).await;
    isolation(base).await;
    activity_log(base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_members_invitations_activity_on_sqlite() {
    everything(&test_server().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_members_invitations_activity_on_postgres() {
    everything(&pg_server().await).await;
}
