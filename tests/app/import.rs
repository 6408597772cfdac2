//! Moving in from Magento (SPEC §6, issue 9): `import magento FILE [--dry-run]`
//! run as the real binary against the test's database; imported customers sign in
//! through the storefront and REST with their Magento passwords, and their hashes
//! become argon2id.

use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use shop_accounts::store::AccountTable;

use crate::helpers::*;
use crate::store_test;

const FAILED: &str = "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.";
const HEADER: &str = "email,_website,_store,confirmation,created_at,created_in,disable_auto_group_change,dob,firstname,gender,group_id,lastname,middlename,password_hash,prefix,rp_token,rp_token_created_at,store_id,suffix,taxvat,updated_at,website_id,password";

/// A hash of every format, made by tests/vectors/make_magento_vectors.py, and its password.
const FORMATS: &[(&str, &str, &str)] = &[
    (
        "m24",
        "abf1de8d537a1270237b9b56c8db9c67aeece6d89639a64d5ffd7264262541ab:PNK7gwTSnTc9L8AXZEvgZQ4SA66qirus:3_32_2_67108864",
        "Password@2022",
    ),
    (
        "v0",
        "e10e0049aaf5b5487d79814493c0f425:Zr8qT0yWkq1mX3cV9bN2hJ4fL6dS7aP5:0",
        "hunter2 with spaces",
    ),
    (
        "v1",
        "8e310b09aeeaea263b897d46a4cf6e110154236be3fd4645a5036692076317b0:a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6:1",
        "Sécurité-été-ü",
    ),
    ("v2", "", "correct horse"),
    ("v3bare", "", "bare-three"),
    ("chain13", "", "chain one three"),
    ("chain23", "", "two-argons"),
    ("m1md5", "", "m1 md5 pass"),
    ("m1sha", "", "m1-sha"),
    ("bcrypt0", "", "with-suffix"),
    ("bcrypt2a", "", "two-a ü"),
];

/// The vectors file, looked up by the password each vector verifies.
fn vector_for(password: &str) -> String {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("../vectors/magento_hashes.json")).unwrap();
    vectors
        .iter()
        .find(|v| v["expect"] == "verifies" && v["password"] == password)
        .map(|v| v["hash"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no vector for {password:?}"))
}

fn formats() -> Vec<(&'static str, String, &'static str)> {
    FORMATS
        .iter()
        .map(|(name, hash, password)| {
            let hash = if hash.is_empty() {
                vector_for(password)
            } else {
                hash.to_string()
            };
            (*name, hash, *password)
        })
        .collect()
}

/// A CSV field, quoted when it must be (RFC 4180).
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A data row in Magento's column order.
fn row(email: &str, first: &str, last: &str, hash: &str) -> String {
    format!(
        "{},base,default,,2019-03-04 05:06:07,Default Store View,0,,{},0,1,{},,{},,,,1,,,2024-01-01 00:00:00,1,",
        field(email),
        field(first),
        field(last),
        field(hash)
    )
}

/// Writes a file of its own: the SQLite and PostgreSQL halves of a test run at
/// the same time in one process, so the name alone would be shared.
fn write_file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join("shop-accounts-import-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}_{name}", crate::helpers::unique()));
    std::fs::write(&path, bytes).unwrap();
    path
}

fn csv(name: &str, rows: &[String]) -> PathBuf {
    let mut text = format!("{HEADER}\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    write_file(name, text.as_bytes())
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `shop-accounts import magento FILE ARGS…` on the test's database.
async fn import(app: &TestApp, file: &std::path::Path, args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_shop-accounts"))
        .arg("--database-url")
        .arg(&app.database_url)
        .args(["--log", "warn", "import", "magento"])
        .arg(file)
        .args(args)
        .output()
        .await
        .expect("run the binary");
    Run {
        code: output.status.code().expect("an exit code"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn hash_of(app: &TestApp, email_key: &str) -> String {
    app.db()
        .credentials_by_email_key(AccountTable::Customers, email_key)
        .await
        .unwrap()
        .expect("the customer exists")
        .password_hash
}

async fn token_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.client()
        .http
        .post(format!(
            "{}/rest/V1/integration/customer/token",
            app.address
        ))
        .json(&serde_json::json!({ "username": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
}

async fn storefront_sign_in(app: &TestApp, email: &str, password: &str) -> String {
    let client = app.client();
    let response = client.sign_in(email, password).await;
    assert_eq!(response.status(), 303);
    let target = location(&response);
    if target == "/customer/account/login" {
        assert_eq!(flashes(&client.follow(&response).await), vec![FAILED]);
    }
    target
}

async fn customer_count(app: &TestApp) -> i64 {
    let filter = shop_accounts::store::GridFilter::default();
    match app
        .db()
        .customer_count(&filter, app.state.now(), None)
        .await
        .unwrap()
    {
        shop_accounts::store::GridCount::Exact(n) => n,
        other => panic!("expected an exact count, got {other:?}"),
    }
}

store_test!(
    every_format_signs_in_and_is_upgraded,
    |app: TestApp| async move {
        let formats = formats();
        let mut rows = Vec::new();
        for (name, hash, _) in &formats {
            rows.push(row(
                &format!("web.{name}@example.com"),
                "Jan",
                "de Vries",
                hash,
            ));
            rows.push(row(
                &format!("rest.{name}@example.com"),
                "Jan",
                "de Vries",
                hash,
            ));
        }
        rows.push(row("nohash@example.com", "No", "Hash", ""));
        let run = import(&app, &csv("formats.csv", &rows), &[]).await;
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let expected = format!(
            "imported {}, skipped 0 already present, rejected 0",
            formats.len() * 2 + 1
        );
        assert_eq!(run.stdout.trim(), expected);

        let checks = formats.iter().map(|(name, hash, password)| {
            let app = &app;
            async move {
                let web = format!("web.{name}@example.com");
                let rest = format!("rest.{name}@example.com");
                // A wrong password fails with the usual answer and changes nothing.
                assert_eq!(
                    storefront_sign_in(app, &web, "wrong password").await,
                    "/customer/account/login",
                    "{name}"
                );
                assert_eq!(
                    token_status(app, &rest, "wrong password").await,
                    StatusCode::UNAUTHORIZED,
                    "{name}"
                );
                assert_eq!(&hash_of(app, &web).await, hash, "{name}");
                // The Magento password, spaces and all, signs in; the hash becomes ours.
                assert_eq!(
                    storefront_sign_in(app, &web, password).await,
                    "/customer/account",
                    "{name}"
                );
                assert_eq!(
                    token_status(app, &rest, password).await,
                    StatusCode::OK,
                    "{name}"
                );
                for email in [&web, &rest] {
                    let upgraded = hash_of(app, email).await;
                    assert!(upgraded.starts_with("$argon2id$"), "{name}: {upgraded}");
                }
                // …and keeps signing in.
                assert_eq!(
                    storefront_sign_in(app, &rest, password).await,
                    "/customer/account",
                    "{name}"
                );
                assert_eq!(
                    token_status(app, &web, password).await,
                    StatusCode::OK,
                    "{name}"
                );
                assert_eq!(
                    token_status(app, &web, "wrong password").await,
                    StatusCode::UNAUTHORIZED
                );
            }
        });
        futures_util::future::join_all(checks).await;

        // No password imported: the account exists, and no password opens it.
        assert_eq!(
            storefront_sign_in(&app, "nohash@example.com", "").await,
            "/customer/account/login"
        );
        assert_eq!(
            token_status(&app, "nohash@example.com", "anything").await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(hash_of(&app, "nohash@example.com").await, "");
    }
);

store_test!(rejections_dry_run_and_reimport, |app: TestApp| async move {
    app.register("Present@Example.com", "correct-horse-9").await;
    let before = hash_of(&app, "present@example.com").await;
    let md5 = "e10e0049aaf5b5487d79814493c0f425:Zr8qT0yWkq1mX3cV9bN2hJ4fL6dS7aP5:0";
    let lines: Vec<Vec<u8>> = vec![
        format!("\u{feff}{HEADER}").into(),
        row("ok1@example.com", "Anna", "Jansen", md5).into(), // 2
        row("present@example.com", "Other", "Name", md5).into(), // 3: skipped
        row("not-an-email", "Anna", "Jansen", md5).into(),    // 4
        row("ok2@example.com", " ", "Jansen", md5).into(),    // 5
        row("ok3@example.com", "Anna", "Jansen", "abc:def:9").into(), // 6
        row("OK1@example.com", "Anna", "Jansen", md5).into(), // 7: duplicate of 2
        row("ok4@example.com", "Anna \"the\", Quoted", "Smit", "").into(), // 8
        row("date@example.com", "Anna", "Jansen", "")
            .replace("2019-03-04 05:06:07", "04/03/2019")
            .into(), // 9
        row("big@example.com", "Anna", "Jansen", "")
            .replace(
                ",Default Store View,",
                &format!(",{},", "x".repeat(10 * 1024 * 1024)),
            )
            .into(), // 10
        b"latin@example.com,base,default,,,Default,0,,Ren\xe9,0,1,Dupont,,,,,,1,,,,1,".to_vec(), // 11
        b"cut@example.com,base,default,,2019-03-04".to_vec(), // 12: a cut-off last line
    ];
    let text = lines.join(&b'\n');
    let file = write_file("rejections.csv", &text);

    let expected_lines = [
        "line 4: email is not a valid address",
        "line 5: firstname is empty",
        "line 6: password_hash has a hash version Magento does not write",
        "line 7: the same email as line 2, which is the one imported",
        "line 9: created_at is not a date YYYY-MM-DD HH:MM:SS",
        "line 10: created_in holds 10485760 bytes; a cell may hold at most 65536",
        "line 11: firstname is not valid UTF-8",
        "line 12: has 5 fields where the header has 23 (a cut-off or broken line?)",
    ];
    let check = |run: &Run, summary: &str| {
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains(summary), "{}", run.stdout);
        for line in expected_lines {
            assert!(
                run.stdout.contains(line),
                "missing {line:?} in\n{}",
                run.stdout
            );
        }
    };

    // A dry run reports exactly what the import will do, and writes nothing.
    let dry = import(&app, &file, &["--dry-run"]).await;
    check(&dry, "imported 2, skipped 1 already present, rejected 8");
    assert_eq!(customer_count(&app).await, 1);
    assert!(
        app.db()
            .customer_by_email_key("ok1@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let run = import(&app, &file, &[]).await;
    check(&run, "imported 2, skipped 1 already present, rejected 8");
    assert_eq!(customer_count(&app).await, 3);
    let ok4 = app
        .db()
        .customer_by_email_key("ok4@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok4.firstname, "Anna \"the\", Quoted");
    assert_eq!(ok4.created_at, 1_551_675_967);
    // The account that was there is untouched.
    let present = app
        .db()
        .customer_by_email_key("present@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(present.firstname, "Jane");
    assert_eq!(hash_of(&app, "present@example.com").await, before);

    // Running it again adds nothing.
    let again = import(&app, &file, &[]).await;
    check(&again, "imported 0, skipped 3 already present, rejected 8");
    assert_eq!(customer_count(&app).await, 3);

    // Each real run is in the audit log, by `cli`, with the file and the counts.
    let audit = app.db().audit_page(None, None, 10).await.unwrap();
    let imports: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "magento_import")
        .collect();
    assert_eq!(imports.len(), 2);
    assert_eq!(imports[0].admin_email, "cli");
    assert!(
        imports[0].detail.contains("rejections.csv"),
        "{}",
        imports[0].detail
    );
    assert!(
        imports[0]
            .detail
            .contains("imported 0, skipped 3 already present, rejected 8")
    );
});

store_test!(unreadable_files_exit_2, |app: TestApp| async move {
    let missing = import(
        &app,
        std::path::Path::new("/nonexistent/customers.csv"),
        &[],
    )
    .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("cannot read /nonexistent/customers.csv"),
        "{}",
        missing.stderr
    );

    let no_email = write_file("no_email.csv", b"firstname,lastname\nJan,Smit\n");
    let run = import(&app, &no_email, &[]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("has no email column"), "{}", run.stderr);

    let empty = write_file("empty.csv", b"");
    assert_eq!(import(&app, &empty, &["--dry-run"]).await.code, 2);
    assert_eq!(customer_count(&app).await, 0);
});

store_test!(
    interrupted_import_completes_on_rerun,
    |app: TestApp| async move {
        // The database refuses one address, so the third batch fails as a whole.
        let trigger = match app.backend {
            Backend::Sqlite => vec![
                "CREATE TRIGGER refuse BEFORE INSERT ON customers WHEN NEW.email_key = 'c5@example.com' \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
            ],
            Backend::Postgres => vec![
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN \
             IF NEW.email_key = 'c5@example.com' THEN RAISE EXCEPTION 'refused for the test'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
                "CREATE TRIGGER refuse BEFORE INSERT ON customers FOR EACH ROW EXECUTE FUNCTION refuse()",
            ],
        };
        let untrigger = match app.backend {
            Backend::Sqlite => vec!["DROP TRIGGER refuse"],
            Backend::Postgres => vec!["DROP TRIGGER refuse ON customers", "DROP FUNCTION refuse()"],
        };
        let execute = |statements: Vec<&'static str>| {
            let db = app.db().clone();
            async move {
                for sql in statements {
                    match &db {
                        shop_accounts::store::Db::Sqlite(pool) => {
                            sqlx::query(sql).execute(pool).await.unwrap();
                        }
                        shop_accounts::store::Db::Postgres(pool) => {
                            sqlx::query(sql).execute(pool).await.unwrap();
                        }
                    }
                }
            }
        };
        execute(trigger).await;
        let rows: Vec<String> = (1..=7)
            .map(|i| row(&format!("c{i}@example.com"), "Anna", "Jansen", ""))
            .collect();
        let file = csv("interrupted.csv", &rows);

        let run = import(&app, &file, &["--batch-size", "2"]).await;
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        // c1–c4 (lines 2–5) are in as two whole batches; c5 and c6 are not.
        assert!(
            run.stderr.contains("stopped after line 5"),
            "{}",
            run.stderr
        );
        assert_eq!(customer_count(&app).await, 4);
        assert!(
            app.db()
                .customer_by_email_key("c6@example.com")
                .await
                .unwrap()
                .is_none()
        );

        execute(untrigger).await;
        let rerun = import(&app, &file, &["--batch-size", "2"]).await;
        assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
        assert_eq!(
            rerun.stdout.trim(),
            "imported 3, skipped 4 already present, rejected 0"
        );
        assert_eq!(customer_count(&app).await, 7);
    }
);

store_test!(
    two_first_sign_ins_at_once_both_succeed,
    |app: TestApp| async move {
        let public = "abf1de8d537a1270237b9b56c8db9c67aeece6d89639a64d5ffd7264262541ab:PNK7gwTSnTc9L8AXZEvgZQ4SA66qirus:3_32_2_67108864";
        let file = csv(
            "race.csv",
            &[row("race@example.com", "Jan", "Smit", public)],
        );
        assert_eq!(import(&app, &file, &[]).await.code, 0);
        let (a, b, c) = tokio::join!(
            token_status(&app, "race@example.com", "Password@2022"),
            token_status(&app, "race@example.com", "Password@2022"),
            storefront_sign_in(&app, "race@example.com", "Password@2022"),
        );
        assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));
        assert_eq!(c, "/customer/account");
        let hash = hash_of(&app, "race@example.com").await;
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_eq!(
            token_status(&app, "race@example.com", "Password@2022").await,
            StatusCode::OK
        );
        assert_eq!(hash_of(&app, "race@example.com").await, hash);
    }
);
