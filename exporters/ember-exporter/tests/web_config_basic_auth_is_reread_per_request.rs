//! `--web.config.file` with `basic_auth_users`: 401 without or with wrong credentials,
//! 200 with the right ones, and a change to the file applies to the next request.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use std::path::PathBuf;

use base64::Engine as _;
use ember_e2e::http_get;

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

fn write_users(path: &PathBuf, users: &[(&str, &str)]) {
    let mut text = String::from("basic_auth_users:\n");
    for (user, password) in users {
        text.push_str(&format!(
            "  {user}: '{}'\n",
            bcrypt::hash(password, 4).unwrap()
        ));
    }
    // Write then rename, so a request never reads a half-written file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn web_config_basic_auth_is_reread_per_request() {
    let dir = std::env::temp_dir().join(format!("ember-exporter-webcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("web.yml");
    write_users(&path, &[("alice", "first")]);
    let flag = format!("--web.config.file={}", path.display());
    let addr = common::start(vec![Box::new(common::Fixed("a"))], &[&flag]);

    let r = http_get(&addr, "/metrics", &[]).unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Basic"));
    let wrong = basic("alice", "nope");
    assert_eq!(
        http_get(&addr, "/metrics", &[("Authorization", &wrong)])
            .unwrap()
            .status,
        401
    );
    let right = basic("alice", "first");
    let r = http_get(&addr, "/metrics", &[("Authorization", &right)]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("test_a_value 42\n"));
    // The landing page is behind the same check, as upstream.
    assert_eq!(http_get(&addr, "/", &[]).unwrap().status, 401);

    write_users(&path, &[("alice", "second")]);
    assert_eq!(
        http_get(&addr, "/metrics", &[("Authorization", &right)])
            .unwrap()
            .status,
        401
    );
    let new = basic("alice", "second");
    assert_eq!(
        http_get(&addr, "/metrics", &[("Authorization", &new)])
            .unwrap()
            .status,
        200
    );

    std::fs::write(&path, "basic_auth_users: [\n").unwrap();
    assert_eq!(
        http_get(&addr, "/metrics", &[("Authorization", &new)])
            .unwrap()
            .status,
        500
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_web_config_file_is_refused_at_start() {
    let flags = ember_exporter::Flags::try_parse_from(
        &common::INFO,
        &[],
        ["test_exporter", "--web.config.file=/nonexistent/web.yml"],
    )
    .unwrap();
    let scheduler = ember_exporter::Scheduler::new("test", "test_exporter", vec![], 1).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt
        .block_on(ember_exporter::Server::bind(
            common::INFO,
            &flags,
            scheduler,
        ))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("web config file /nonexistent/web.yml: "),
        "{err}"
    );
}
