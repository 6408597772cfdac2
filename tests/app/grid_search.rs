//! The grid's keyword search and sort, straight against the store: every word of
//! a keyword must be the start of the name or the email read from a word
//! boundary on (after a space, `@ . - _ +`, or at the start), and a fragment in
//! the middle of a word must not match — on SQLite and on PostgreSQL, and on
//! PostgreSQL also when the database's default collation is a linguistic one
//! (ICU), under which 'jäger' sorts after 'jå' and 'jañez' between 'jan' and 'jao'.

use shop_accounts::store::{CustomerGridQuery, Db, GridCount, GridFilter, GridSort, NewCustomer};

use crate::helpers::{Backend, fresh_database, postgres_admin_url};

/// (first name, last name, email): accents, case, a hyphen, and the code points
/// around the surrogate gap, where "the next character" needs care.
const PEOPLE: [(&str, &str, &str); 15] = [
    ("Jan", "Jansen", "jan.jansen@example.com"),
    ("Jañez", "Ruiz", "janez@example.com"),
    ("Jänner", "Berg", "jaenner@example.com"),
    ("Ida", "Jäger", "ida@example.com"),
    ("JANE", "DOE", "Jane.Doe@Example.com"),
    ("Zoë", "Smith", "zoe@example.org"),
    ("Émile", "Zola", "emile@example.net"),
    ("Pat", "Jansen-Smith", "pat@example.com"),
    ("Jaó", "Lima", "jao@example.com"),
    ("Kim", "Smits", "smits@example.com"),
    ("Ed", "\u{D7FF}", "ed@example.com"),
    ("Al", "\u{E000}", "al@example.com"),
    ("Jan", "de Vries", "jdv@example.nl"),
    ("Anna", "van den Berg", "anna@example.nl"),
    ("Dex", "Jansen", "dex@example.com"),
];

/// Keywords and, for some, what they must find (by email), the rest checked
/// against the model in `Person::matches`.
const KEYWORDS: [&str; 39] = [
    "jan",
    "jä",
    "jañ",
    "jane",
    "jane.doe@",
    "smith",
    "smi",
    "émile",
    "zo",
    "j",
    "jansen-",
    "\u{D7FF}",
    "nobody",
    "vries",
    "de v",
    "berg",
    "van den",
    // Word starts inside emails and names.
    "example.com",
    "example",
    "nl",
    "doe@exa",
    "de vries",
    "jan vries",
    "jdv@exa",
    "@example.org",
    // Fragments in the middle of a word find nobody.
    "ansen",
    "mith",
    "xample",
    "oe",
    "ries",
    "an den",
    // Several words, driven from the rarest in the word table: a word longer
    // than the stored words, one word inside another's range, no common customer.
    "jansen example.com",
    "example.com jane.doe@example",
    "j jan jansen",
    "smith zo",
    "berg example.nl van",
    // A rare word and one in every email: the common word is looked up for the
    // rare word's customers, not read whole.
    "zola example",
    "ed example",
    // Words typed in the order of a name: those holding them as one phrase
    // (Jan de Vries) and those holding them apart (Dex Jansen) both match.
    "jan de",
];

/// Every keyword here must find exactly these emails.
const EXPECTED: [(&str, &[&str]); 9] = [
    ("vries", &["jdv@example.nl"]),
    ("de vries", &["jdv@example.nl"]),
    ("jan vries", &["jdv@example.nl"]),
    ("jdv@exa", &["jdv@example.nl"]),
    ("ansen", &[]),
    ("xample", &[]),
    ("oe", &[]),
    ("@example.org", &["zoe@example.org"]),
    ("jan de", &["dex@example.com", "jdv@example.nl"]),
];

struct Person {
    id: i64,
    email: String,
    email_key: String,
    name_key: String,
}

const SEPARATORS: [char; 6] = [' ', '@', '.', '-', '_', '+'];

/// `word` starts `key` at a word boundary.
fn starts_a_word(key: &str, word: &str) -> bool {
    key.char_indices().any(|(i, _)| {
        let boundary = i == 0 || key[..i].ends_with(SEPARATORS);
        boundary && key[i..].starts_with(word)
    })
}

impl Person {
    fn matches(&self, keyword: &str) -> bool {
        keyword
            .split_whitespace()
            .map(|w| w.trim_start_matches(SEPARATORS))
            .filter(|w| !w.is_empty())
            .all(|w| starts_a_word(&self.name_key, w) || starts_a_word(&self.email_key, w))
    }
}

fn words(keyword: &str) -> Vec<String> {
    keyword
        .split_whitespace()
        .map(|w| w.trim_start_matches(SEPARATORS).to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

async fn fill(db: &Db) -> Vec<Person> {
    let mut people = Vec::new();
    for (i, (first, last, email)) in PEOPLE.iter().enumerate() {
        let email_key = email.to_ascii_lowercase();
        let id = db
            .insert_customer(&NewCustomer {
                email,
                email_key: &email_key,
                firstname: first,
                lastname: last,
                password_hash: "not-a-real-hash",
                security_stamp: &format!("stamp-{i}"),
                locale: "en",
                created_at: 1_700_000_000 + i as i64,
            })
            .await
            .unwrap();
        people.push(Person {
            id,
            email: email.to_string(),
            email_key,
            name_key: format!("{first} {last}").to_lowercase(),
        });
    }
    people
}

fn query(keyword: &str, sort: GridSort, descending: bool) -> CustomerGridQuery {
    CustomerGridQuery {
        filter: GridFilter {
            words: words(keyword),
            ..GridFilter::default()
        },
        sort,
        descending,
        limit: 200,
        offset: 0,
        now: 0,
        after: None,
    }
}

async fn check_search_and_sort(db: &Db) {
    let people = fill(db).await;
    // A renamed customer is found by the new name only (the triggers keep the
    // word table in step), and a deleted one by nothing.
    check_renames_and_deletes(db, &people).await;
    for keyword in KEYWORDS {
        let mut expected: Vec<&Person> = people.iter().filter(|p| p.matches(keyword)).collect();
        let filter = GridFilter {
            words: words(keyword),
            ..GridFilter::default()
        };
        let count = db.customer_count(&filter, 0, None).await.unwrap();
        assert_eq!(
            count,
            GridCount::Exact(expected.len() as i64),
            "count for {keyword:?}"
        );
        // Bounded, as the grid counts (from the word table alone when every
        // word fits the stored words).
        for bound in [1, 10_000] {
            let n = expected.len() as i64;
            let want = if n > bound {
                GridCount::MoreThan(bound)
            } else {
                GridCount::Exact(n)
            };
            let count = db.customer_count(&filter, 0, Some(bound)).await.unwrap();
            assert_eq!(count, want, "count for {keyword:?} up to {bound}");
        }
        if let Some((_, emails)) = EXPECTED.iter().find(|(k, _)| *k == keyword) {
            let mut found: Vec<&str> = expected.iter().map(|p| p.email.as_str()).collect();
            found.sort();
            assert_eq!(found, *emails, "the model's matches for {keyword:?}");
        }

        // Name ascending: byte-wise by the lower-cased full name, then id.
        expected.sort_by(|a, b| (a.name_key.as_bytes(), a.id).cmp(&(b.name_key.as_bytes(), b.id)));
        let rows = db
            .customer_grid(&query(keyword, GridSort::Name, false))
            .await
            .unwrap();
        let got: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let want: Vec<i64> = expected.iter().map(|p| p.id).collect();
        assert_eq!(got, want, "rows for {keyword:?} sorted by name");
        // A pager link's keyset: the rows after any one of them.
        assert_rows_after_each(db, query(keyword, GridSort::Name, false), &want).await;
        // One row a page, as deep as the matches go, by id and by name: a
        // short page of many matches walks the id order on SQLite, checking
        // each id against the keyword's match set.
        let mut by_id = want.clone();
        by_id.sort_unstable();
        for (sort, want) in [(GridSort::Id, &by_id), (GridSort::Name, &want)] {
            for (offset, id) in want.iter().enumerate() {
                let q = CustomerGridQuery {
                    limit: 1,
                    offset: offset as i64,
                    ..query(keyword, sort, false)
                };
                let got = grid_ids(db, &q).await;
                assert_eq!(got, [*id], "row {offset} for {keyword:?} by {sort:?}");
            }
        }

        // Email descending.
        expected
            .sort_by(|a, b| (b.email_key.as_bytes(), b.id).cmp(&(a.email_key.as_bytes(), a.id)));
        let rows = db
            .customer_grid(&query(keyword, GridSort::Email, true))
            .await
            .unwrap();
        let got: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let want: Vec<i64> = expected.iter().map(|p| p.id).collect();
        assert_eq!(
            got, want,
            "rows for {keyword:?} sorted by email, descending"
        );
        assert_rows_after_each(db, query(keyword, GridSort::Email, true), &want).await;
    }
}

/// The keyset of a pager link: after each row of `want` (the whole result of
/// `grid`, in order), the grid continues with exactly the rows that follow it.
async fn assert_rows_after_each(db: &Db, grid: CustomerGridQuery, want: &[i64]) {
    for (i, anchor) in want.iter().enumerate() {
        let q = CustomerGridQuery {
            after: Some(*anchor),
            ..grid.clone()
        };
        let got = grid_ids(db, &q).await;
        assert_eq!(got, want[i + 1..], "rows after {anchor} for {grid:?}");
    }
}

/// The ids of a grid page, in order.
async fn grid_ids(db: &Db, q: &CustomerGridQuery) -> Vec<i64> {
    let rows = db.customer_grid(q).await.unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

/// Runs one statement with `$1` = `id` on either store.
async fn exec(db: &Db, sql: &str, id: i64) {
    match db {
        Db::Sqlite(pool) => sqlx::query(sql).bind(id).execute(pool).await.map(drop),
        Db::Postgres(pool) => sqlx::query(sql).bind(id).execute(pool).await.map(drop),
    }
    .unwrap();
}

async fn found(db: &Db, keyword: &str) -> Vec<i64> {
    grid_ids(db, &query(keyword, GridSort::Id, false)).await
}

async fn check_renames_and_deletes(db: &Db, people: &[Person]) {
    let zola = people
        .iter()
        .find(|p| p.email == "emile@example.net")
        .unwrap()
        .id;
    exec(
        db,
        "UPDATE customers SET name_key = 'émile quuxley' WHERE id = $1",
        zola,
    )
    .await;
    assert_eq!(found(db, "quux").await, [zola]);
    assert!(found(db, "zola").await.is_empty());
    exec(
        db,
        "UPDATE customers SET name_key = 'émile zola' WHERE id = $1",
        zola,
    )
    .await;
    assert_eq!(found(db, "zola").await, [zola]);
    let extra = db
        .insert_customer(&NewCustomer {
            email: "gone@example.com",
            email_key: "gone@example.com",
            firstname: "Gone",
            lastname: "Soon",
            password_hash: "x",
            security_stamp: "x",
            locale: "en",
            created_at: 1,
        })
        .await
        .unwrap();
    assert_eq!(found(db, "gone soon").await, [extra]);
    exec(db, "DELETE FROM customers WHERE id = $1", extra).await;
    assert!(found(db, "gone").await.is_empty());
    let words: i64 = match db {
        Db::Sqlite(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM customer_search_words WHERE customer_id = $1")
                .bind(extra)
                .fetch_one(pool)
                .await
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM customer_search_words WHERE customer_id = $1")
                .bind(extra)
                .fetch_one(pool)
                .await
        }
    }
    .unwrap();
    assert_eq!(words, 0, "a deleted customer's words are gone");
}

#[tokio::test]
async fn prefix_search_and_sort_on_sqlite() {
    let db = Db::connect(&fresh_database(Backend::Sqlite).await)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    check_search_and_sort(&db).await;
}

/// A database whose default collation is ICU's English one. A server without
/// ICU fails the test rather than quietly checking only its default collation.
async fn linguistic_database(admin_url: &str) -> String {
    let admin = sqlx::PgPool::connect(admin_url).await.unwrap();
    let icu: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'")
            .fetch_optional(&admin)
            .await
            .unwrap();
    assert!(
        icu.is_some(),
        "this PostgreSQL server has no ICU collations, so the linguistic-collation check cannot run"
    );
    let url = fresh_database(Backend::Postgres).await;
    let name = url::Url::parse(&url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    sqlx::query(&format!("DROP DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
    ))
    .execute(&admin)
    .await
    .unwrap();
    admin.close().await;
    url
}

#[tokio::test]
#[ignore = "PostgreSQL half: set TEST_DATABASE_URL and run with --include-ignored"]
async fn prefix_search_and_sort_on_postgres() {
    let admin_url = postgres_admin_url();
    let db = Db::connect(&linguistic_database(&admin_url).await)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    check_search_and_sort(&db).await;
}
