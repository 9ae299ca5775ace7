//! The data API's statements and the JSON shape of SQL Server rows.

use super::common::{admin, admin_options, fresh_database};
use chrono::Utc;
use serde_json::{json, Value};
use tenantry::mssql::data::{self, Column, SqlValue, Table};
use tenantry::mssql::{connect, migrate, MssqlClient, MssqlError};
use tenantry::tenant::DatabaseName;

const fn col(name: &'static str, json: &'static str) -> Column {
    Column { name, json }
}

static CUSTOMERS: Table = Table {
    name: "customers",
    columns: &[
        col("id", "id"),
        col("name", "name"),
        col("created_at", "createdAt"),
        col("updated_at", "updatedAt"),
    ],
};
static SITES: Table = Table {
    name: "sites",
    columns: &[
        col("id", "id"),
        col("customer_id", "customerId"),
        col("name", "name"),
        col("created_at", "createdAt"),
        col("updated_at", "updatedAt"),
    ],
};
static TICKETS: Table = Table {
    name: "tickets",
    columns: &[
        col("id", "id"),
        col("site_id", "siteId"),
        col("title", "title"),
        col("description", "description"),
        col("status", "status"),
        col("assigned_to", "assignedTo"),
        col("created_at", "createdAt"),
        col("updated_at", "updatedAt"),
    ],
};
static USERS: Table = Table {
    name: "users",
    columns: &[
        col("id", "id"),
        col("username", "username"),
        col("disabled", "disabled"),
        col("updated_at", "updatedAt"),
    ],
};

/// The columns a new user needs (JSON names unused when writing).
static NEW_USER: Table = Table {
    name: "users",
    columns: &[
        col("username", "username"),
        col("full_name", "fullName"),
        col("password_hash", "passwordHash"),
        col("created_at", "createdAt"),
    ],
};

fn text(s: &str) -> SqlValue {
    SqlValue::Text(Some(s.to_owned()))
}

async fn migrated(prefix: &str) -> (DatabaseName, MssqlClient) {
    let db = fresh_database(prefix).await;
    let mut c = connect(&admin_options(db.as_str())).await.unwrap();
    migrate::migrate(&mut c).await.unwrap();
    (db, c)
}

async fn customer(c: &mut MssqlClient, name: &str) -> i64 {
    let now = SqlValue::DateTime(Some(Utc::now()));
    let values = [
        ("name", text(name)),
        ("created_at", now.clone()),
        ("updated_at", now),
    ];
    data::insert(c, &CUSTOMERS, &values).await.unwrap()
}

fn is_utc_millis(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn a_ticket_round_trips_through_insert_get_update_list_and_delete() {
    let (db, mut c) = migrated("data_crud").await;
    let customer_id = customer(&mut c, "Acme Ltd").await;
    let now = SqlValue::DateTime(Some(Utc::now()));
    let site = [
        ("customer_id", SqlValue::BigInt(Some(customer_id))),
        ("name", text("Depot")),
        ("created_at", now.clone()),
        ("updated_at", now.clone()),
    ];
    let site_id = data::insert(&mut c, &SITES, &site).await.unwrap();
    let ticket = [
        ("site_id", SqlValue::BigInt(Some(site_id))),
        ("title", text("Boiler leaks – Zürich")),
        ("description", text("Water on the floor")),
        ("status", text("open")),
        ("assigned_to", SqlValue::BigInt(None)),
        ("created_at", now.clone()),
        ("updated_at", now),
    ];
    let id = data::insert(&mut c, &TICKETS, &ticket).await.unwrap();

    let got = data::get(&mut c, &TICKETS, id)
        .await
        .unwrap()
        .expect("inserted row");
    let keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 8, "{got}");
    assert_eq!(got["id"], json!(id));
    assert_eq!(got["siteId"], json!(site_id));
    assert_eq!(got["title"], json!("Boiler leaks – Zürich"));
    assert_eq!(got["description"], json!("Water on the floor"));
    assert_eq!(got["assignedTo"], Value::Null);
    assert!(is_utc_millis(&got["createdAt"]), "{got}");

    let changed = [
        ("status", text("closed")),
        ("description", SqlValue::Text(None)),
        ("updated_at", SqlValue::DateTime(Some(Utc::now()))),
    ];
    assert!(data::update(&mut c, &TICKETS, id, &changed).await.unwrap());
    let got = data::get(&mut c, &TICKETS, id).await.unwrap().unwrap();
    assert_eq!(got["status"], json!("closed"));
    assert_eq!(got["description"], Value::Null);

    let page = data::list(&mut c, &TICKETS, 0, 20).await.unwrap();
    assert_eq!((page.total, page.rows.len()), (1, 1));
    assert_eq!(page.rows[0], got);

    assert!(data::delete(&mut c, &TICKETS, id).await.unwrap());
    assert!(!data::delete(&mut c, &TICKETS, id).await.unwrap());
    assert_eq!(data::get(&mut c, &TICKETS, id).await.unwrap(), None);
    assert!(!data::update(&mut c, &TICKETS, id, &changed).await.unwrap());
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_page_carries_the_total_and_a_page_past_the_end_still_counts() {
    let (db, mut c) = migrated("data_page").await;
    let empty = data::list(&mut c, &CUSTOMERS, 0, 20).await.unwrap();
    assert_eq!((empty.total, empty.rows.len()), (0, 0));
    for i in 0..5 {
        customer(&mut c, &format!("Customer {i}")).await;
    }
    let page = data::list(&mut c, &CUSTOMERS, 2, 2).await.unwrap();
    assert_eq!(page.total, 5);
    let names: Vec<&str> = page
        .rows
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Customer 2", "Customer 3"]);
    let past = data::list(&mut c, &CUSTOMERS, 40, 20).await.unwrap();
    assert_eq!((past.total, past.rows.len()), (5, 0));
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn a_bit_column_reads_as_a_boolean_and_a_null_time_as_null() {
    let (db, mut c) = migrated("data_bit").await;
    let values = [
        ("username", text("ada")),
        ("full_name", text("Ada")),
        ("password_hash", text("x")),
        ("created_at", SqlValue::DateTime(Some(Utc::now()))),
    ];
    let id = data::insert(&mut c, &NEW_USER, &values).await.unwrap();
    let user = data::get(&mut c, &USERS, id).await.unwrap().unwrap();
    assert_eq!(
        user,
        json!({"id": id, "username": "ada", "disabled": false, "updatedAt": null})
    );
    data::update(
        &mut c,
        &USERS,
        id,
        &[("disabled", SqlValue::Bit(Some(true)))],
    )
    .await
    .unwrap();
    assert_eq!(
        data::get(&mut c, &USERS, id).await.unwrap().unwrap()["disabled"],
        json!(true)
    );
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}

#[tokio::test]
async fn columns_outside_the_description_are_refused_before_reaching_the_server() {
    let (db, mut c) = migrated("data_cols").await;
    let bad = [("name; DROP TABLE users", text("x"))];
    let err = data::insert(&mut c, &CUSTOMERS, &bad).await.unwrap_err();
    assert!(matches!(err, MssqlError::InvalidIdentifier(_)), "{err:?}");
    let unknown = [("password_hash", text("x"))];
    let err = data::update(&mut c, &CUSTOMERS, 1, &unknown)
        .await
        .unwrap_err();
    assert!(matches!(err, MssqlError::InvalidIdentifier(_)), "{err:?}");
    let _ = c.close().await;
    admin().drop_database(&db).await.unwrap();
}
