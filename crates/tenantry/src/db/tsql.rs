//! The library's engine-neutral statements in SQL Server's dialect.
//!
//! The library writes its statements once, with `?` placeholders (see [`super::value`]). For SQL
//! Server they become:
//! - `?` → `@P1, @P2, …` in order; a NULL argument is written as the keyword `NULL` and not bound
//!   (tiberius sends a null parameter as TDS `NULLTYPE`, which SQL Server types as `int`, clashing
//!   with `DATETIME2` and `NVARCHAR`, and which Babelfish refuses), so later placeholders shift;
//! - a trailing `LIMIT ? OFFSET ?` (after an `ORDER BY`) → `OFFSET ? ROWS FETCH NEXT ? ROWS ONLY`,
//!   with the two arguments swapped to match; a trailing `LIMIT ?` → `OFFSET 0 ROWS FETCH NEXT ?
//!   ROWS ONLY`;
//! - an insert's new id: `OUTPUT inserted.id` before `VALUES` (see [`output_inserted_id`]).
//!
//! Question marks inside single-quoted literals are left alone. Values are always bound (or, for
//! NULL, a keyword), never spliced.

use super::SqlValue;
use std::borrow::Cow;

/// `text` with `?` numbered as `@P1, @P2, …` (for applications that write their own T-SQL).
pub fn numbered(text: &str) -> Cow<'_, str> {
    if !text.contains('?') {
        return Cow::Borrowed(text);
    }
    let mut n = 0;
    Cow::Owned(replace_marks(text, |_| {
        n += 1;
        format!("@P{n}")
    }))
}

/// A statement ready for tiberius: its text and the arguments to bind, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub args: Vec<SqlValue>,
}

/// Translates one of the library's statements and its arguments (see the module comment).
pub fn statement(text: &str, args: &[SqlValue]) -> Statement {
    let (text, args) = paging(text, args);
    let mut bound = Vec::with_capacity(args.len());
    let mut given = args.iter();
    let sql = replace_marks(&text, |_| match given.next() {
        Some(SqlValue::Null(_)) => "NULL".to_owned(),
        Some(v) => {
            bound.push(v.clone());
            format!("@P{}", bound.len())
        }
        // More marks than arguments: left for the server to refuse ("must declare @Pn").
        None => format!("@P{}", bound.len() + 1),
    });
    Statement { sql, args: bound }
}

/// Rewrites a trailing `LIMIT ? [OFFSET ?]` and reorders the arguments to match.
fn paging<'a>(text: &'a str, args: &'a [SqlValue]) -> (Cow<'a, str>, Cow<'a, [SqlValue]>) {
    let words: Vec<String> = text
        .split_whitespace()
        .rev()
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    let ends_with = |tail: &[&str]| {
        words.len() >= tail.len() && words.iter().zip(tail.iter().rev()).all(|(w, t)| w == t)
    };
    if args.len() >= 2 && ends_with(&["LIMIT", "?", "OFFSET", "?"]) {
        let sql = format!(
            "{} OFFSET ? ROWS FETCH NEXT ? ROWS ONLY",
            cut_before_tail(text, 4)
        );
        let mut reordered = args.to_vec();
        let k = reordered.len();
        reordered.swap(k - 2, k - 1);
        return (Cow::Owned(sql), Cow::Owned(reordered));
    }
    if !args.is_empty() && ends_with(&["LIMIT", "?"]) {
        let sql = format!(
            "{} OFFSET 0 ROWS FETCH NEXT ? ROWS ONLY",
            cut_before_tail(text, 2)
        );
        return (Cow::Owned(sql), Cow::Borrowed(args));
    }
    (Cow::Borrowed(text), Cow::Borrowed(args))
}

/// `text` without its last `n` whitespace-separated words (and the space before them).
fn cut_before_tail(text: &str, n: usize) -> &str {
    let mut end = text.trim_end().len();
    for _ in 0..n {
        let head = text[..end].trim_end();
        end = head.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        end = text[..end].trim_end().len();
    }
    &text[..end]
}

/// Inserts `OUTPUT inserted.id` before the `VALUES` of an `INSERT … VALUES (…)` (outside quotes);
/// `None` when there is no such keyword.
pub fn output_inserted_id(text: &str) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let mut quoted = false;
    for (i, c) in upper.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        }
        let boundary = |j: usize| upper[j..].chars().next().is_none_or(|c| !is_word(c));
        let before_ok = i == 0 || !is_word(upper[..i].chars().next_back().unwrap_or(' '));
        if !quoted && before_ok && upper[i..].starts_with("VALUES") && boundary(i + 6) {
            return Some(format!("{}OUTPUT inserted.id {}", &text[..i], &text[i..]));
        }
    }
    None
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Replaces each `?` outside single quotes with `mark(index)`.
fn replace_marks(text: &str, mut mark: impl FnMut(usize) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut n, mut quoted) = (0, false);
    for c in text.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                out.push_str(&mark(n));
                n += 1;
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::ColType;

    #[test]
    fn placeholders_are_numbered_and_quoted_question_marks_kept() {
        let s = statement(
            "SELECT a FROM t WHERE a = ? AND b = '?' AND c = ?",
            &[SqlValue::Int(1), SqlValue::Text("x".into())],
        );
        assert_eq!(
            s.sql,
            "SELECT a FROM t WHERE a = @P1 AND b = '?' AND c = @P2"
        );
        assert_eq!(s.args, [SqlValue::Int(1), SqlValue::Text("x".into())]);
        assert_eq!(numbered("a = ? AND b = ?"), "a = @P1 AND b = @P2");
    }

    #[test]
    fn nulls_are_written_as_keywords_and_later_placeholders_shift() {
        let s = statement(
            "INSERT INTO t (a, b, c) VALUES (?, ?, ?)",
            &[
                SqlValue::Text("a".into()),
                SqlValue::Null(ColType::Time),
                SqlValue::Int(3),
            ],
        );
        assert_eq!(s.sql, "INSERT INTO t (a, b, c) VALUES (@P1, NULL, @P2)");
        assert_eq!(s.args, [SqlValue::Text("a".into()), SqlValue::Int(3)]);
    }

    #[test]
    fn limit_and_offset_become_offset_fetch_with_the_arguments_swapped() {
        let s = statement(
            "SELECT id, COUNT(*) OVER () FROM customers WHERE x = ? ORDER BY id LIMIT ? OFFSET ?",
            &[SqlValue::Int(9), SqlValue::Int(20), SqlValue::Int(40)],
        );
        assert_eq!(
            s.sql,
            "SELECT id, COUNT(*) OVER () FROM customers WHERE x = @P1 ORDER BY id \
             OFFSET @P2 ROWS FETCH NEXT @P3 ROWS ONLY"
        );
        assert_eq!(
            s.args,
            [SqlValue::Int(9), SqlValue::Int(40), SqlValue::Int(20)]
        );
        let s = statement(
            "SELECT id FROM t ORDER BY id\n limit ?",
            &[SqlValue::Int(5)],
        );
        assert_eq!(
            s.sql,
            "SELECT id FROM t ORDER BY id OFFSET 0 ROWS FETCH NEXT @P1 ROWS ONLY"
        );
    }

    #[test]
    fn the_new_id_is_output_before_values_and_not_inside_a_literal() {
        assert_eq!(
            output_inserted_id("INSERT INTO t (a) VALUES (?)").unwrap(),
            "INSERT INTO t (a) OUTPUT inserted.id VALUES (?)"
        );
        assert_eq!(
            output_inserted_id("INSERT INTO t (values_x, a) values ('VALUES', ?)").unwrap(),
            "INSERT INTO t (values_x, a) OUTPUT inserted.id values ('VALUES', ?)"
        );
        assert_eq!(output_inserted_id("INSERT INTO t SELECT 1"), None);
    }
}
