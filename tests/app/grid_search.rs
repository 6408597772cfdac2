//! The grid's keyword search and sort, straight against the store: a prefix
//! range must return exactly the customers whose email, full name, last name or
//! surname (the last name's last word: "vries" in "de Vries") starts with the keyword, on SQLite and on PostgreSQL, and on PostgreSQL also
//! when the database's default collation is a linguistic one (ICU), under which
//! 'jäger' sorts after 'jå' and 'jañez' between 'jan' and 'jao'.

use shop_accounts::store::{CustomerGridQuery, Db, GridSort, NewCustomer};

use crate::helpers::{Backend, fresh_database, postgres_admin_url};

/// (first name, last name, email): accents, case, a hyphen, and the code points
/// around the surrogate gap, where "the next character" needs care.
const PEOPLE: [(&str, &str, &str); 14] = [
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
];

const KEYWORDS: [&str; 17] = [
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
];

struct Person {
    id: i64,
    email_key: String,
    name_key: String,
    lastname_key: String,
    surname_key: String,
}

impl Person {
    fn matches(&self, keyword: &str) -> bool {
        [
            &self.email_key,
            &self.name_key,
            &self.lastname_key,
            &self.surname_key,
        ]
        .iter()
        .any(|key| key.starts_with(keyword))
    }
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
            email_key,
            name_key: format!("{first} {last}").to_lowercase(),
            lastname_key: last.to_lowercase(),
            surname_key: last
                .to_lowercase()
                .split(' ')
                .next_back()
                .unwrap()
                .to_string(),
        });
    }
    people
}

fn query(keyword: &str, sort: GridSort, descending: bool) -> CustomerGridQuery {
    CustomerGridQuery {
        keyword: Some(keyword.to_string()),
        sort,
        descending,
        limit: 200,
        offset: 0,
        now: 0,
    }
}

async fn check_search_and_sort(db: &Db) {
    let people = fill(db).await;
    for keyword in KEYWORDS {
        let mut expected: Vec<&Person> = people.iter().filter(|p| p.matches(keyword)).collect();
        let (count, estimated) = db.customer_count(Some(keyword)).await.unwrap();
        assert_eq!(
            (count, estimated),
            (expected.len() as i64, false),
            "count for {keyword:?}"
        );

        // Name ascending: byte-wise by the lower-cased full name, then id.
        expected.sort_by(|a, b| (a.name_key.as_bytes(), a.id).cmp(&(b.name_key.as_bytes(), b.id)));
        let rows = db
            .customer_grid(&query(keyword, GridSort::Name, false))
            .await
            .unwrap();
        let got: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let want: Vec<i64> = expected.iter().map(|p| p.id).collect();
        assert_eq!(got, want, "rows for {keyword:?} sorted by name");

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
    }
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
