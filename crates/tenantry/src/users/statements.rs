//! The `users` table's statements, written once with `?` placeholders and typed values (see
//! [`crate::db::value`]), run on a connection of the tenant whose users they touch.

use super::{password_version, FullName, Role, User, UserStatus, Username};
use crate::db::{ColType, EngineConnection, SqlValue, Values};
use chrono::Utc;

const COLUMNS: &str = "id, username, full_name, role, disabled, created_at, updated_at";
const TYPES: [ColType; 7] = [
    ColType::Int,
    ColType::Text,
    ColType::Text,
    ColType::Text,
    ColType::Bool,
    ColType::Time,
    ColType::Time,
];

fn user_of(row: &Values) -> User {
    let text = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
    let time = |i: usize| match row[i] {
        SqlValue::Time(t) => t,
        _ => chrono::DateTime::UNIX_EPOCH,
    };
    User {
        id: row[0].as_i64().unwrap_or_default(),
        username: text(1),
        full_name: text(2),
        role: text(3),
        disabled: row[4].as_bool().unwrap_or(false),
        created_at: time(5),
        updated_at: time(6),
    }
}

/// One page of users, by id, and the total.
pub async fn list(
    conn: &mut EngineConnection,
    page: u32,
    limit: u32,
) -> Result<(Vec<User>, i64), sqlx::Error> {
    let total = conn.fetch_i64("SELECT COUNT(*) FROM users", &[]).await?;
    let offset = i64::from(page.max(1) - 1) * i64::from(limit);
    let rows = conn
        .fetch_all(
            &format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?"),
            &[SqlValue::Int(limit.into()), SqlValue::Int(offset)],
            &TYPES,
        )
        .await?;
    Ok((rows.iter().map(user_of).collect(), total))
}

pub async fn get(conn: &mut EngineConnection, id: i64) -> Result<Option<User>, sqlx::Error> {
    let row = conn
        .fetch_optional(
            &format!("SELECT {COLUMNS} FROM users WHERE id = ?"),
            &[SqlValue::Int(id)],
            &TYPES,
        )
        .await?;
    Ok(row.as_ref().map(user_of))
}

/// The user of this (already normalised) name and their password hash, for signing in.
pub async fn for_login(
    conn: &mut EngineConnection,
    username: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let mut types = TYPES.to_vec();
    types.push(ColType::Text);
    let row = conn
        .fetch_optional(
            &format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = ?"),
            &[SqlValue::Text(username.to_owned())],
            &types,
        )
        .await?;
    Ok(row.map(|r| {
        let hash = r[7].as_str().unwrap_or_default().to_owned();
        (user_of(&r), hash)
    }))
}

/// What decides whether a token of user `id` still counts; `None` when the user is gone.
pub async fn status(
    conn: &mut EngineConnection,
    id: i64,
) -> Result<Option<UserStatus>, sqlx::Error> {
    let row = conn
        .fetch_optional(
            "SELECT disabled, role, password_hash FROM users WHERE id = ?",
            &[SqlValue::Int(id)],
            &[ColType::Bool, ColType::Text, ColType::Text],
        )
        .await?;
    Ok(row.map(|r| UserStatus {
        disabled: r[0].as_bool().unwrap_or(false),
        role: r[1].as_str().unwrap_or_default().to_owned(),
        password_version: password_version(r[2].as_str().unwrap_or_default()),
    }))
}

/// Inserts a user; returns the new id. A taken name is the engine's unique violation.
pub async fn insert(
    conn: &mut EngineConnection,
    username: &Username,
    full_name: &FullName,
    role: Role,
    password_hash: String,
) -> Result<i64, sqlx::Error> {
    let now = Utc::now();
    conn.insert_returning_id(
        "INSERT INTO users (username, full_name, role, password_hash, disabled, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
        &[
            SqlValue::Text(username.as_str().to_owned()),
            SqlValue::Text(full_name.as_str().to_owned()),
            SqlValue::Text(role.as_str().to_owned()),
            SqlValue::Text(password_hash),
            SqlValue::Bool(false),
            SqlValue::Time(now),
            SqlValue::Time(now),
        ],
    )
    .await
}

/// Sets one column of user `id` (and `updated_at`); returns whether the user exists.
async fn set(
    conn: &mut EngineConnection,
    id: i64,
    column: &'static str,
    value: SqlValue,
) -> Result<bool, sqlx::Error> {
    let sql = format!("UPDATE users SET {column} = ?, updated_at = ? WHERE id = ?");
    let args = [value, SqlValue::Time(Utc::now()), SqlValue::Int(id)];
    Ok(conn.execute(&sql, &args).await? > 0)
}

pub async fn set_full_name(
    conn: &mut EngineConnection,
    id: i64,
    name: &FullName,
) -> Result<bool, sqlx::Error> {
    let value = SqlValue::Text(name.as_str().to_owned());
    set(conn, id, "full_name", value).await
}

pub async fn set_role(
    conn: &mut EngineConnection,
    id: i64,
    role: Role,
) -> Result<bool, sqlx::Error> {
    set(conn, id, "role", SqlValue::Text(role.as_str().to_owned())).await
}

pub async fn set_disabled(
    conn: &mut EngineConnection,
    id: i64,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    set(conn, id, "disabled", SqlValue::Bool(disabled)).await
}

pub async fn set_password_hash(
    conn: &mut EngineConnection,
    id: i64,
    hash: String,
) -> Result<bool, sqlx::Error> {
    set(conn, id, "password_hash", SqlValue::Text(hash)).await
}

/// Enabled admins other than user `id`: demoting or disabling `id` must leave one.
pub async fn other_enabled_admins(
    conn: &mut EngineConnection,
    id: i64,
) -> Result<i64, sqlx::Error> {
    conn.fetch_i64(
        "SELECT COUNT(*) FROM users WHERE role = ? AND disabled = ? AND id <> ?",
        &[
            SqlValue::Text(Role::Admin.as_str().to_owned()),
            SqlValue::Bool(false),
            SqlValue::Int(id),
        ],
    )
    .await
}
