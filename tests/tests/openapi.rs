//! The served OpenAPI document: it parses as OpenAPI 3.1, documents every route group,
//! declares every path parameter, marks workspace routes as bearer-protected, and the docs
//! page works offline.

use plugboard_e2e::test_server;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid_and_complete() {
    let server = test_server().await;
    let text = reqwest::get(format!("{}/api/openapi.json", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let doc: Value = serde_json::from_str(&text).unwrap();
    let paths = doc["paths"].as_object().unwrap();

    for expected in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/openapi.json",
        "/api/docs",
        "/media/public/{key}",
        "/api/v1/admin/plugins",
        "/api/v1/admin/plugins/{id}/rollback",
        "/api/v1/auth/signup",
        "/api/v1/auth/refresh",
        "/api/v1/me/api-keys",
        "/api/v1/workspaces",
        "/api/v1/workspaces/{workspace_id}/members",
        "/api/v1/workspaces/{workspace_id}/invitations",
        "/api/v1/workspaces/{workspace_id}/activity",
        "/api/v1/workspaces/{workspace_id}/apps",
        "/api/v1/workspaces/{workspace_id}/accounts/connect/{plugin}",
        "/api/v1/accounts/callback",
        "/api/v1/workspaces/{workspace_id}/media",
        "/api/v1/workspaces/{workspace_id}/uploads",
        "/api/v1/workspaces/{workspace_id}/posts",
        "/api/v1/workspaces/{workspace_id}/posts/{post_id}/validate",
        "/api/v1/workspaces/{workspace_id}/posts/{post_id}/schedule",
        "/api/v1/workspaces/{workspace_id}/events",
        "/api/v1/workspaces/{workspace_id}/webhooks",
    ] {
        assert!(paths.contains_key(expected), "{expected} is not documented");
    }

    for (path, item) in paths {
        let declared: Vec<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split('}').next())
            .collect();
        for (method, op) in item.as_object().unwrap() {
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            for name in &declared {
                assert!(
                    params.contains(name),
                    "{method} {path}: path parameter `{name}` is not declared"
                );
            }
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            if path.starts_with("/api/v1/workspaces/") {
                assert!(
                    op["security"].to_string().contains("bearer"),
                    "{method} {path} is not marked bearer-protected"
                );
            }
        }
    }

    let page = reqwest::get(format!("{}/api/docs", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/api/openapi.json"));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "the docs page must not load external resources"
    );
    server.running.stop().await;
}
